import { z } from "zod";
import type { ApiErrorCode } from "../rpc/errors.js";

/**
 * Who may call a method (api.md §1.3): `public` needs no session, `session` any authenticated
 * session, `superuser` an elevated session. Ownership of objects is checked by the handler.
 */
export type Access = "public" | "session" | "superuser";

/** API-token permissions (api.md §1.4). */
export type ApiTokenPermission = "download" | "upload" | "modify" | "share";

/**
 * What a shared-token session holds in place of permissions: it reaches exactly the methods whose
 * `tokenPermissions` name it (api.md §1.4, row "shared token"), besides the `always` ones.
 */
export const SHARED_TOKEN_GRANT = "shared";

/** Token-session permissions as methods name them: the API-token ones and the shared-token grant. */
export type TokenPermission = ApiTokenPermission | typeof SHARED_TOKEN_GRANT;

/** Every API-token permission: methods any API-token session may call, shared-token sessions not. */
export const ANY_API_TOKEN: readonly TokenPermission[] = ["download", "upload", "modify", "share"];

/**
 * One API method: the single source of its TypeScript types, its parameter validation and its
 * documentation. `params` is a strict zod object (unknown names are refused); defaults are zod
 * defaults.
 */
export interface MethodSpec<
  N extends string = string,
  P extends z.ZodTypeAny = z.ZodTypeAny,
  R extends z.ZodTypeAny = z.ZodTypeAny,
> {
  name: N;
  /** docs section heading, e.g. "Session" */
  section: string;
  access: Access;
  summary: string;
  params: P;
  result: R;
  /** method-specific errors, for the docs */
  errors?: readonly ApiErrorCode[];
  /** no `…Async` variant (api.md §1.5) */
  noAsync?: boolean;
  /**
   * Token sessions may call it when they hold any of these (`shared` for shared-token sessions),
   * or `always` (every token session, shared ones included); default: password sessions only
   */
  tokenPermissions?: readonly TokenPermission[] | "always";
}

export function defineMethod<const N extends string, P extends z.ZodTypeAny, R extends z.ZodTypeAny>(
  spec: MethodSpec<N, P, R>,
): MethodSpec<N, P, R> {
  return spec;
}

/** Strict parameter object: unknown parameter names are an error. */
export function params<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape).strict();
}

export const noParams = params({});

/** A named structure (api.md §5): documented once and linked from every use. */
export interface StructureDoc {
  name: string;
  description: string;
  schema: z.ZodTypeAny;
}

const structureRegistry: StructureDoc[] = [];
const structureNames = new WeakMap<z.ZodTypeAny, string>();

export function structure<S extends z.ZodTypeAny>(name: string, description: string, schema: S): S {
  structureRegistry.push({ name, description, schema });
  structureNames.set(schema, name);
  return schema;
}

export function structureName(schema: z.ZodTypeAny): string | undefined {
  return structureNames.get(schema);
}

export function registeredStructures(): readonly StructureDoc[] {
  return structureRegistry;
}

// Common field types (api.md §1.7)

export const IdSchema = z.string().regex(/^[0-9a-f]{32}$/, "must be an Id (32 lowercase hex characters)");
export const TimestampSchema = z.number().int().describe("microseconds since the Unix epoch");
export const offsetParam = z.number().int().min(0).default(0).describe("paging: entries to skip");
export const limitParam = z
  .number()
  .int()
  .min(1)
  .max(10_000)
  .default(1000)
  .describe("paging: at most this many (≤ 10,000)");
