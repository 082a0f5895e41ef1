import type { Command } from "commander";
import { startServer } from "../../api/start-server.js";
import { ConfigError, StartupError } from "../../server/errors.js";
import { serverHelpText } from "../../server/options/help.js";
import { defaultsEnv, parseServerCommand, type ParsedServerCommand } from "../../server/options/parse.js";
import { openStateDir } from "../../server/state-dir.js";
import { loadTlsIdentity } from "../../server/tls.js";
import { CliExit, EXIT } from "../exit.js";
import { ReceiveConfigurationError, receiveService } from "../../server/engine/receive-service.js";
import { sendExtension } from "../../api/send-extension.js";
import { formatPublicKey, loadOrCreateKeyPair } from "../../io/keys.js";
import { serverKeyPath } from "../../server/server-state.js";

async function runAction(parsed: ParsedServerCommand): Promise<void> {
  const action = parsed.actions[0];
  if (action === "print-public-key") {
    const stateDir = openStateDir(parsed.options.stateDir, parsed.options.ephemeral);
    try {
      const { keyPair } = await loadOrCreateKeyPair(serverKeyPath(stateDir.path));
      process.stdout.write(formatPublicKey(keyPair.publicKey) + "\n");
    } finally {
      stateDir.release();
    }
    return;
  }
  const stateDir = openStateDir(parsed.options.stateDir, parsed.options.ephemeral);
  try {
    const identity = loadTlsIdentity(stateDir.path, {
      certFile: parsed.options.apiCert,
      keyFile: parsed.options.apiKey,
      renew: action === "renew-certificate",
    });
    process.stdout.write(identity.fingerprint + "\n");
  } finally {
    stateDir.release();
  }
}

async function runServer(args: string[]): Promise<void> {
  let parsed: ParsedServerCommand;
  try {
    parsed = parseServerCommand(args, defaultsEnv());
  } catch (error) {
    if (error instanceof ConfigError) throw new CliExit(EXIT.USAGE, `slipstream server: ${error.message}`);
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(serverHelpText(defaultsEnv()));
    return;
  }
  try {
    if (parsed.actions.length > 0) return runAction(parsed);
    const handle = await startServer(parsed, { extensions: [receiveService(), sendExtension()] });
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) process.exit(EXIT.INTERRUPTED);
      void handle.close("signal");
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", () => handle.reload());
    await handle.closed;
    process.exit(EXIT.OK);
  } catch (error) {
    if (error instanceof StartupError)
      throw new CliExit(error.exitCode, `slipstream server: ${error.message}`);
    if (error instanceof ReceiveConfigurationError)
      throw new CliExit(EXIT.USAGE, `slipstream server: ${error.message}`);
    // A receive port that cannot be bound stops the start with status 1, naming the port.
    if (
      (error as NodeJS.ErrnoException).code === "EADDRINUSE" ||
      (error as NodeJS.ErrnoException).code === "EACCES"
    ) {
      throw new CliExit(
        EXIT.FAILED,
        `slipstream server: cannot bind receive port: ${(error as Error).message}`,
      );
    }
    throw error;
  }
}

/** `slipstream server [options]` (server.md §2); options are parsed by the server's own table. */
export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .description("run the Slipstream server (see: slipstream server --help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument("[options...]")
    .action((args: string[]) => runServer(args));
}

export function serverCommandHelp(): string {
  return serverHelpText(defaultsEnv());
}
