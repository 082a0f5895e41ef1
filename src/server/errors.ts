/**
 * A configuration or usage problem: the command exits with status 2 and prints `message`,
 * which names the offending option or value (server.md §1, §2.2).
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly exitCode = 2;
}

/** A failure to start (port in use, unreadable state dir): exit status 1. */
export class StartupError extends Error {
  override readonly name = "StartupError";
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** The errno code of a Node system error, or undefined. */
export function errnoCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}
