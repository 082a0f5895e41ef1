/** JSON for the terminal: pretty on a TTY (or --pretty), compact otherwise (or --compact). */
export function formatJson(
  value: unknown,
  opts: { pretty?: boolean; compact?: boolean },
  isTty: boolean,
): string {
  const pretty = opts.compact ? false : opts.pretty ? true : isTty;
  return JSON.stringify(value === undefined ? null : value, null, pretty ? 2 : undefined);
}
