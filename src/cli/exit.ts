/** Exit statuses of every command (server.md §1). */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  CONNECT: 3,
  AUTH: 4,
  INTERRUPTED: 130,
} as const;
export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** Thrown by a command to end with `status`; `message` (if any) goes to standard error. */
export class CliExit extends Error {
  override readonly name = "CliExit";
  constructor(
    readonly status: number,
    message = "",
  ) {
    super(message);
  }
}

export function usageError(message: string): CliExit {
  return new CliExit(EXIT.USAGE, message);
}
