import type { Command } from "commander";
import { API_VERSION, MIN_API_VERSION, REVISION, VERSION } from "../../server/version.js";

export function versionText(): string {
  return `slipstream ${VERSION} (revision ${REVISION}, API version ${API_VERSION}, min ${MIN_API_VERSION})`;
}

/** `slipstream version` (also `--version`). */
export function registerVersionCommand(program: Command): void {
  program
    .command("version")
    .description("print version, revision and API version")
    .action(() => {
      process.stdout.write(versionText() + "\n");
    });
}
