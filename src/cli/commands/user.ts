import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { systemClock } from "../../server/clock.js";
import { defaultStateDir } from "../../server/options/definitions.js";
import { defaultsEnv } from "../../server/options/parse.js";
import { StartupError } from "../../server/errors.js";
import { parseBooleanValue } from "../../server/units.js";
import { checkUserName, UsersFile } from "../../server/users.js";
import { mkdirSync } from "node:fs";
import { CliExit, EXIT, usageError } from "../exit.js";
import { promptHidden, readStdinLine } from "../prompt.js";

interface StateDirOption {
  stateDir?: string;
}

/** The users file of the state dir, initialised like a first server start when missing. */
async function openUsers(opts: StateDirOption): Promise<UsersFile> {
  const dir = opts.stateDir ?? defaultStateDir(defaultsEnv());
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const users = new UsersFile(dir);
  const created = await users.initialize(systemClock.nowMicros());
  if (created !== null) process.stderr.write(`created user admin; its password is in ${created}\n`);
  return users;
}

async function readNewPassword(fromStdin: boolean | undefined): Promise<string> {
  let password: string;
  if (fromStdin) password = await readStdinLine();
  else {
    password = await promptHidden("New password: ");
    if ((await promptHidden("Repeat password: ")) !== password)
      throw new CliExit(EXIT.FAILED, "passwords do not match");
  }
  if (password.length === 0) throw usageError("empty password");
  return password;
}

function validName(name: string): string {
  try {
    checkUserName(name);
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
  return name;
}

function boolean(text: string): boolean {
  try {
    return parseBooleanValue(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

async function guarded(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof CliExit) throw error;
    if (error instanceof StartupError) throw new CliExit(error.exitCode, `slipstream user: ${error.message}`);
    throw new CliExit(
      EXIT.FAILED,
      `slipstream user: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** `slipstream user add|remove|passwd|set|list` (server.md §6). */
export function registerUserCommand(program: Command): void {
  const user = program.command("user").description("manage the users file of a state dir");
  const stateDirHelp = "state dir (default: ~/.slipstream/state, /var/lib/slipstream/state as root)";

  user
    .command("add <name>")
    .description("create a user (password prompted twice, or read from standard input)")
    .option("--superuser", "the user may call superuser()")
    .option("--password-stdin", "read the password from standard input")
    .option("--state-dir <dir>", stateDirHelp)
    .action((name: string, opts: StateDirOption & { superuser?: boolean; passwordStdin?: boolean }) =>
      guarded(async () => {
        validName(name);
        const users = await openUsers(opts);
        if (users.get(name)) throw new CliExit(EXIT.FAILED, `slipstream user: user ${name} already exists`);
        await users.add(
          name,
          await readNewPassword(opts.passwordStdin),
          opts.superuser === true,
          systemClock.nowMicros(),
        );
      }),
    );

  user
    .command("remove <name>")
    .description("delete a user; their sessions end")
    .option("--state-dir <dir>", stateDirHelp)
    .action((name: string, opts: StateDirOption) =>
      guarded(async () => (await openUsers(opts)).remove(name)),
    );

  user
    .command("passwd <name>")
    .description("set a new password; the user's sessions end")
    .option("--password-stdin", "read the password from standard input")
    .option("--state-dir <dir>", stateDirHelp)
    .action((name: string, opts: StateDirOption & { passwordStdin?: boolean }) =>
      guarded(async () => {
        const users = await openUsers(opts);
        if (!users.get(name)) throw new CliExit(EXIT.FAILED, `slipstream user: no user ${name}`);
        await users.setPassword(name, await readNewPassword(opts.passwordStdin));
      }),
    );

  user
    .command("set <name>")
    .description("grant or withdraw elevation")
    .requiredOption("--superuser <bool>", "true or false", boolean)
    .option("--state-dir <dir>", stateDirHelp)
    .action((name: string, opts: StateDirOption & { superuser: boolean }) =>
      guarded(async () => (await openUsers(opts)).setSuperuser(name, opts.superuser)),
    );

  user
    .command("list")
    .description("name, superuser flag, creation time")
    .option("--json", "JSON output")
    .option("--state-dir <dir>", stateDirHelp)
    .action((opts: StateDirOption & { json?: boolean }) =>
      guarded(async () => {
        const list = (await openUsers(opts))
          .list()
          .map((u) => ({ name: u.name, superuser: u.superuser, creationTime: u.creationTime }));
        if (opts.json) {
          process.stdout.write(JSON.stringify(list, null, 2) + "\n");
          return;
        }
        for (const u of list) {
          const created = new Date(u.creationTime / 1000).toISOString();
          process.stdout.write(
            `${u.name.padEnd(24)} ${u.superuser ? "superuser" : "-".padEnd(9)} ${created}\n`,
          );
        }
      }),
    );
}
