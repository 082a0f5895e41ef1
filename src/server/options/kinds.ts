import type { OptionDefinition } from "./definitions.js";
import { parseBooleanValue, parseDuration, parseInteger, parseRate, parseSize } from "../units.js";

/** A value as it arrives from the command line (string, or `true` for a bare flag) or a JSON config file. */
export type RawOptionValue = string | number | boolean | null;

/** Where the defaults of path-like options come from (server.md §1: root vs other users). */
export interface DefaultsEnv {
  isRoot: boolean;
  home: string;
  hostName: string;
}

/** How one option's text becomes its typed value. `parse` throws an Error describing the accepted form. */
export interface OptionKind<T> {
  /** shown in help: `<port>`, `<bytes>`; absent for boolean flags */
  valueName: string | null;
  parse(raw: RawOptionValue): T;
}

function text(raw: RawOptionValue): string {
  if (typeof raw === "string") return raw;
  if (typeof raw === "number") return String(raw);
  throw new Error(`expected a value, got ${JSON.stringify(raw)}`);
}

function numberOrText(raw: RawOptionValue): string | number {
  if (typeof raw === "number") return raw;
  return text(raw);
}

export const kinds = {
  string(valueName = "<text>"): OptionKind<string> {
    return { valueName, parse: (raw) => text(raw) };
  },
  nullableString(valueName = "<text>"): OptionKind<string | null> {
    return { valueName, parse: (raw) => (raw === null ? null : text(raw)) };
  },
  boolean(): OptionKind<boolean> {
    return {
      valueName: null,
      parse: (raw) => {
        if (typeof raw === "boolean") return raw;
        if (typeof raw === "string") return parseBooleanValue(raw);
        throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
      },
    };
  },
  nullableBoolean(): OptionKind<boolean | null> {
    const bool = kinds.boolean();
    return { valueName: null, parse: (raw) => (raw === null ? null : bool.parse(raw)) };
  },
  integer(min: number, max: number, valueName = "<n>"): OptionKind<number> {
    return { valueName, parse: (raw) => parseInteger(numberOrText(raw), min, max) };
  },
  port(): OptionKind<number> {
    return kinds.integer(0, 65535, "<port>");
  },
  size(min: number, max: number): OptionKind<number> {
    return {
      valueName: "<bytes>",
      parse: (raw) => {
        const bytes = parseSize(numberOrText(raw));
        if (bytes < min || bytes > max)
          throw new Error(`expected a size from ${min} to ${max} bytes, got ${bytes}`);
        return bytes;
      },
    };
  },
  rate(): OptionKind<number> {
    return { valueName: "<kbps>", parse: (raw) => parseRate(numberOrText(raw)) };
  },
  duration(): OptionKind<number> {
    return { valueName: "<s>", parse: (raw) => parseDuration(numberOrText(raw)) };
  },
  oneOf<T extends string>(values: readonly T[]): OptionKind<T> {
    return {
      valueName: `<${values.join("|")}>`,
      parse: (raw) => {
        const value = text(raw);
        const found = values.find((v) => v === value);
        if (found === undefined)
          throw new Error(`expected one of ${values.join(", ")}, got ${JSON.stringify(value)}`);
        return found;
      },
    };
  },
};

/** A single-valued option of the table. */
export function one<T>(
  name: string,
  group: string,
  kind: OptionKind<T>,
  def: (env: DefaultsEnv) => T,
  help: string,
) {
  return { name, group, kind, help, repeatable: false, defaultValue: def } as OptionDefinition<T>;
}
/** A repeatable option of the table. */
export function many<T>(
  name: string,
  group: string,
  kind: OptionKind<T>,
  def: (env: DefaultsEnv) => T[],
  help: string,
) {
  return { name, group, kind, help, repeatable: true, defaultValue: def } as OptionDefinition<T[]>;
}
