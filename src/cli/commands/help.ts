import type { Command } from "commander";
import { serverCommandHelp } from "./server.js";
import { usageError } from "../exit.js";

/** `slipstream help [command]`. */
export function registerHelpCommand(program: Command): void {
  program
    .command("help [command]")
    .description("show usage of slipstream or of one command")
    .action((name: string | undefined) => {
      if (name === undefined) return program.outputHelp();
      if (name === "server") return void process.stdout.write(serverCommandHelp());
      const command = program.commands.find((c) => c.name() === name);
      if (command === undefined) throw usageError(`unknown command ${name}`);
      command.outputHelp();
    });
}
