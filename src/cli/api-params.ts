import { usageError } from "./exit.js";

/** A value as `slipstream api` reads it: JSON when it parses, else the plain string (server.md §4). */
export function parseParamValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Method parameters from the words after the method name: `--name=value`, `--name value`, a bare
 * `--name` (true); repeated names become arrays; `--params-json '{…}'` is merged under them.
 */
export function parseMethodParams(
  words: readonly string[],
  paramsJson: string | undefined,
): Record<string, unknown> {
  let jsonText = paramsJson;
  const flags = new Map<string, unknown[]>();
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (!word.startsWith("--") || word.length === 2)
      throw usageError(`unexpected argument ${JSON.stringify(word)}: parameters are --name=value`);
    const eq = word.indexOf("=");
    const name = eq >= 0 ? word.slice(2, eq) : word.slice(2);
    let value: unknown;
    if (eq >= 0) value = parseParamValue(word.slice(eq + 1));
    else if (i + 1 < words.length && !words[i + 1].startsWith("--")) value = parseParamValue(words[++i]);
    else value = true;
    if (name === "params-json") {
      if (typeof value !== "string" && typeof value !== "object")
        throw usageError("--params-json: expected a JSON object");
      jsonText = typeof value === "string" ? value : JSON.stringify(value);
      continue;
    }
    if (name.length === 0) throw usageError(`invalid parameter ${JSON.stringify(word)}`);
    const list = flags.get(name) ?? [];
    list.push(value);
    flags.set(name, list);
  }
  let params: Record<string, unknown> = {};
  if (jsonText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(jsonText);
    } catch {
      throw usageError("--params-json: not valid JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw usageError("--params-json: expected a JSON object");
    params = { ...(parsed as Record<string, unknown>) };
  }
  for (const [name, values] of flags) params[name] = values.length === 1 ? values[0] : values;
  return params;
}
