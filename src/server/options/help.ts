import { ACTION_OPTIONS, type OptionDefinition, type ServerOptions } from "./definitions.js";
import { OPTION_DEFINITIONS } from "./table.js";
import type { DefaultsEnv } from "./kinds.js";

function defaultText(value: unknown): string {
  if (value === null) return "none";
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.join(", ");
  return String(value);
}

/** Usage text of `slipstream server`, generated from the option table. */
export function serverHelpText(env: DefaultsEnv): string {
  const lines = [
    "Usage: slipstream server [options]",
    "",
    "Runs the Slipstream server (API over HTTPS, data over UDP).",
    "",
  ];
  const groups = new Map<string, string[]>();
  for (const key of Object.keys(OPTION_DEFINITIONS) as (keyof ServerOptions)[]) {
    const def = OPTION_DEFINITIONS[key] as OptionDefinition<unknown>;
    const flag = def.kind.valueName === null ? `--${def.name}[=bool]` : `--${def.name} ${def.kind.valueName}`;
    const line = `  ${flag.padEnd(42)} ${def.help} (default: ${defaultText(def.defaultValue(env))})`;
    const list = groups.get(def.group) ?? [];
    list.push(line);
    groups.set(def.group, list);
  }
  lines.push("General:");
  lines.push(`  ${"--config <file>".padEnd(42)} JSON options file (keys: option names without dashes)`);
  for (const action of ACTION_OPTIONS) lines.push(`  --${action}`);
  lines.push(`  ${"--help".padEnd(42)} this text`);
  for (const [group, list] of groups) lines.push("", `${group}:`, ...list);
  lines.push(
    "",
    "Booleans: --flag, --flag=false, --no-flag. Sizes take K/M/G (binary), rates M/G (Mbit/s, Gbit/s),",
    "durations s/m/h/d. Command line beats config file beats defaults.",
  );
  return lines.join("\n") + "\n";
}
