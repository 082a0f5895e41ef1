import { z } from "zod";
import { API_ERROR_CODES, RPC_CODES } from "../rpc/errors.js";
import {
  ANY_API_TOKEN,
  registeredStructures,
  SHARED_TOKEN_GRANT,
  structureName,
  type MethodSpec,
} from "./define.js";
import { apiMethods } from "./index.js";
import { notificationSchemas } from "./notifications.js";

const ACCESS_LABEL: Record<MethodSpec["access"], string> = {
  public: "public",
  session: "any session",
  superuser: "superuser (elevated session)",
};

function anchor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Peel optional/default/nullable/effects wrappers: the core type, whether optional, its default. */
function unwrap(schema: z.ZodTypeAny): {
  core: z.ZodTypeAny;
  optional: boolean;
  defaultValue?: unknown;
  description?: string;
} {
  let current = schema;
  let optional = false;
  let defaultValue: unknown;
  let description = schema.description;
  for (;;) {
    if (current instanceof z.ZodOptional) {
      optional = true;
      current = current.unwrap();
    } else if (current instanceof z.ZodDefault) {
      optional = true;
      defaultValue = current._def.defaultValue();
      current = current.removeDefault();
    } else break;
    description ??= current.description;
  }
  return { core: current, optional, defaultValue, description: description ?? current.description };
}

/** Markdown type expression of a schema; named structures become links. */
export function typeText(schema: z.ZodTypeAny, linkNamed = true): string {
  const name = linkNamed ? structureName(schema) : undefined;
  if (name !== undefined) return `[${name}](#${anchor(name)})`;
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) return typeText(unwrap(schema).core);
  if (schema instanceof z.ZodNullable) return `${typeText(schema.unwrap())} \\| null`;
  if (schema instanceof z.ZodEffects) return typeText(schema.innerType());
  if (schema instanceof z.ZodLazy) return typeText(schema.schema);
  if (schema instanceof z.ZodString) {
    return schema._def.checks.some((c) => c.kind === "regex" && String(c.regex) === "/^[0-9a-f]{32}$/")
      ? "Id"
      : "string";
  }
  if (schema instanceof z.ZodNumber) return schema.isInt ? "integer" : "number";
  if (schema instanceof z.ZodBoolean) return "boolean";
  if (schema instanceof z.ZodNull) return "null";
  if (schema instanceof z.ZodLiteral) return `\`${JSON.stringify(schema.value)}\``;
  if (schema instanceof z.ZodEnum) return (schema.options as string[]).map((v) => `\`${v}\``).join(" \\| ");
  if (schema instanceof z.ZodArray) return `${typeText(schema.element)}[]`;
  if (schema instanceof z.ZodUnion)
    return (schema.options as z.ZodTypeAny[]).map((option) => typeText(option)).join(" \\| ");
  if (schema instanceof z.ZodRecord) return `{[key: string]: ${typeText(schema.valueSchema)}}`;
  if (schema instanceof z.ZodObject) {
    const fields = Object.entries(schema.shape as z.ZodRawShape).map(([k, v]) => `${k}: ${typeText(v)}`);
    return `{${fields.join(", ")}}`;
  }
  return "any";
}

function fieldTable(shape: z.ZodRawShape, kind: "param" | "field"): string[] {
  const entries = Object.entries(shape);
  if (entries.length === 0) return [kind === "param" ? "No parameters." : "No fields."];
  const lines =
    kind === "param"
      ? ["| param | type | default | meaning |", "| --- | --- | --- | --- |"]
      : ["| field | type | meaning |", "| --- | --- | --- |"];
  for (const [name, schema] of entries) {
    const { optional, defaultValue, description } = unwrap(schema);
    const meaning = escapeCell(description ?? "");
    if (kind === "param") {
      const def = !optional
        ? "required"
        : defaultValue === undefined
          ? "—"
          : `\`${JSON.stringify(defaultValue)}\``;
      lines.push(`| \`${name}\` | ${typeText(schema)} | ${def} | ${meaning} |`);
    } else {
      lines.push(`| \`${name}\` | ${typeText(schema)}${optional ? " (optional)" : ""} | ${meaning} |`);
    }
  }
  return lines;
}

function paramsShape(spec: MethodSpec): z.ZodRawShape {
  return spec.params instanceof z.ZodObject ? (spec.params.shape as z.ZodRawShape) : {};
}

function methodSection(spec: MethodSpec): string[] {
  const lines = [
    `#### \`${spec.name}\` — ${ACCESS_LABEL[spec.access]}`,
    "",
    spec.summary,
    "",
    ...fieldTable(paramsShape(spec), "param"),
    "",
  ];
  const { description } = unwrap(spec.result);
  lines.push(`Result: ${typeText(spec.result)}${description ? ` — ${description}` : ""}.`);
  if (spec.errors && spec.errors.length > 0)
    lines.push(`Errors: ${spec.errors.map((e) => `\`${e}\``).join(", ")}.`);
  lines.push(
    spec.noAsync ? "No `Async` form." : `Also \`${spec.name}Async\` (returns a [Request](#request)).`,
  );
  const tokens = tokenSessionsLine(spec.tokenPermissions);
  if (tokens !== null) lines.push(tokens);
  return [...lines, ""];
}

/** Which token sessions may call a method, for its docs section; null for password sessions only. */
function tokenSessionsLine(allowed: MethodSpec["tokenPermissions"]): string | null {
  if (allowed === undefined) return null;
  if (allowed === "always") return "API-token and shared-token sessions: always.";
  const api = allowed.filter((p) => p !== SHARED_TOKEN_GRANT);
  const anyApi = ANY_API_TOKEN.every((p) => allowed.includes(p));
  const apiText = api.length === 0 ? "never" : anyApi ? "always" : api.join(", ");
  const shared = allowed.includes(SHARED_TOKEN_GRANT)
    ? " Shared-token sessions: on their own objects and their shared manifest."
    : "";
  return `API-token sessions: ${apiText}.${shared}`;
}

/** docs/api.md: every method, structure, notification and error code, from the schema. */
export function generateApiDocs(methods: readonly MethodSpec[] = apiMethods): string {
  const out = [
    "# Slipstream API (generated)",
    "",
    "Generated by `npm run docs:api` from `src/api/schema/`; do not edit by hand. The normative",
    "reference is the specification's `api.md`; this page lists what the code implements.",
    "",
    "Transport: JSON-RPC 2.0 over HTTPS (`POST /rpc`) and a WebSocket at `/ws`. Parameters by name only.",
    "Every method marked with an `Async` form also exists as `<name>Async`, returning a `Request`.",
    "",
    "## Methods",
    "",
  ];
  const sections = new Map<string, MethodSpec[]>();
  for (const spec of methods) sections.set(spec.section, [...(sections.get(spec.section) ?? []), spec]);
  for (const [section, specs] of sections) {
    out.push(`### ${section}`, "");
    for (const spec of specs) out.push(...methodSection(spec));
  }
  out.push("## Structures", "");
  for (const doc of registeredStructures()) {
    out.push(`### ${doc.name}`, "", doc.description, "");
    if (doc.schema instanceof z.ZodObject)
      out.push(...fieldTable(doc.schema.shape as z.ZodRawShape, "field"), "");
    else out.push(`Type: ${typeText(doc.schema, false)}`, "");
  }
  out.push("## Notifications (WebSocket only)", "", "| method | params | when |", "| --- | --- | --- |");
  for (const [method, n] of Object.entries(notificationSchemas)) {
    out.push(`| \`${method}\` | ${typeText(n.params)} | ${escapeCell(n.summary)} |`);
  }
  out.push("", "## Error codes", "", "| `data.code` | JSON-RPC `code` |", "| --- | --- |");
  const numeric: Record<string, string> = {
    INVALID_ARGUMENT: `${RPC_CODES.PARSE_ERROR}, ${RPC_CODES.INVALID_REQUEST}, ${RPC_CODES.INVALID_PARAMS}`,
    NOT_FOUND: `${RPC_CODES.METHOD_NOT_FOUND}, ${RPC_CODES.OBJECT_NOT_FOUND}`,
    AUTH_REQUIRED: String(RPC_CODES.AUTH_REQUIRED),
    AUTH_FAILED: String(RPC_CODES.AUTH_FAILED),
    FORBIDDEN: String(RPC_CODES.FORBIDDEN),
    NOT_SUPERUSER: String(RPC_CODES.NOT_SUPERUSER),
    CONFLICT: String(RPC_CODES.CONFLICT),
    API_VERSION_MISMATCH: String(RPC_CODES.API_VERSION_MISMATCH),
    UNAVAILABLE: String(RPC_CODES.UNAVAILABLE),
    INTERNAL: String(RPC_CODES.INTERNAL_ERROR),
  };
  for (const code of API_ERROR_CODES) out.push(`| \`${code}\` | ${numeric[code]} |`);
  return out.join("\n") + "\n";
}
