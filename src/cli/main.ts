#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerApiCommand } from "./commands/api.js";
import { registerCpCommand } from "./commands/cp.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerLossyRelayCommand } from "./commands/lossy-relay.js";
import { registerRelayCommand } from "./commands/relay.js";
import { registerHelpCommand } from "./commands/help.js";
import { registerServerCommand } from "./commands/server.js";
import { registerStatusCommand } from "./commands/status.js";
import { registerUserCommand } from "./commands/user.js";
import { registerVersionCommand, versionText } from "./commands/version.js";
import { CliExit, EXIT } from "./exit.js";

/** The `slipstream` command; each subcommand lives in ./commands/ and is registered here. */
export function buildProgram(): Command {
  const program = new Command("slipstream")
    .description("Slipstream: accelerated file transfer over UDP")
    .version(versionText(), "-V, --version", "print version, revision and API version")
    .enablePositionalOptions()
    .helpCommand(false)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerServerCommand(program);
  registerRelayCommand(program);
  registerApiCommand(program);
  registerCpCommand(program);
  registerStatusCommand(program);
  registerUserCommand(program);
  registerDemoCommand(program);
  registerLossyRelayCommand(program);
  registerVersionCommand(program);
  registerHelpCommand(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (error) {
    if (error instanceof CliExit) {
      if (error.message) process.stderr.write(error.message + "\n");
      return error.status;
    }
    if (error instanceof CommanderError) {
      const ok = ["commander.helpDisplayed", "commander.help", "commander.version"].includes(error.code);
      return ok ? EXIT.OK : EXIT.USAGE;
    }
    process.stderr.write(
      `slipstream: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.FAILED;
  }
}

process.exitCode = await main(process.argv);
