import pino from "pino";

export type Logger = pino.Logger;
type DestinationStream = pino.DestinationStream;
import type { LogFormat, LogLevel } from "./options/definitions.js";

export interface ServerLogging {
  logger: Logger;
  /** reopen the log file (SIGHUP); a no-op on standard error */
  reopen(): void;
  flush(): void;
}

const RESERVED = new Set(["time", "level", "component", "msg"]);

function formatValue(value: unknown): string {
  if (typeof value === "string" && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value);
}

/** One readable line per record: `2025-01-01T00:00:00.000Z INFO  [api] msg key=value …` */
export function formatTextLine(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const level = String(record.level ?? "info")
    .toUpperCase()
    .padEnd(5);
  const component = record.component === undefined ? "" : ` [${String(record.component)}]`;
  const fields = Object.entries(record)
    .filter(([key]) => !RESERVED.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  const tail = fields.length > 0 ? ` ${fields.join(" ")}` : "";
  return `${String(record.time ?? "")} ${level}${component} ${String(record.msg ?? "")}${tail}\n`;
}

/**
 * The server log (server.md §2.1): `json` gives one object per line with `time`, `level`,
 * `component`, `msg` and fields; `text` one readable line. Written synchronously so nothing is
 * lost at exit.
 */
export function createLogging(opts: {
  level: LogLevel | "silent";
  format: LogFormat;
  file: string | null;
}): ServerLogging {
  const sink = pino.destination({
    dest: opts.file ?? 2,
    append: true,
    sync: true,
    mkdir: opts.file !== null,
  });
  const destination: DestinationStream =
    opts.format === "json" ? sink : { write: (line: string) => void sink.write(formatTextLine(line)) };
  const logger = pino(
    {
      level: opts.level,
      base: undefined,
      messageKey: "msg",
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    logger,
    reopen: () => {
      if (opts.file !== null) sink.reopen();
    },
    flush: () => {
      try {
        sink.flushSync();
      } catch {
        // nothing buffered
      }
    },
  };
}

/** A logger that drops everything (tests, embedders that bring none). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
