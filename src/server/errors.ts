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

/** Codes a server operation refuses with; the API reports them as `data.code` (api.md §1.6). */
export type ServiceErrorCode = "INVALID_ARGUMENT" | "NOT_FOUND" | "CONFLICT" | "FORBIDDEN" | "UNAVAILABLE";

/** A refused operation: the caller gets `code` and `message` (and `param`/`data` when given). */
export class ServiceError extends Error {
  override readonly name: string = "ServiceError";
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    /** the API parameter the problem is about, when known */
    readonly param?: string,
    /** extra fields for the error's `data`, e.g. `{ id }` of a conflicting object */
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The errno code of a Node system error, or undefined. */
export function errnoCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}
