import type { z } from "zod";
import type { MethodSpec } from "./define.js";
import type { AsyncRequest } from "./structures.js";
import { serverMethods } from "./server-methods.js";
import { sendMethods } from "./send-methods.js";
import { sharedTokenMethods, tokenMethods } from "./token-methods.js";
import { recvMethods } from "./recv-methods.js";
import { gcMethods } from "./gc-methods.js";

export * from "./define.js";
export * from "./structures.js";
export * from "./notifications.js";
export { serverMethods } from "./server-methods.js";
export * from "./send-structures.js";
export { sendMethods } from "./send-methods.js";
export * from "./token-methods.js";
export * from "./recv-structures.js";
export { recvMethods } from "./recv-methods.js";
export * from "./gc-methods.js";

/**
 * Every method of the API, the single list the docs, the CLI's name resolution and the typed
 * client are built from. The send.* and recv.* method lists join here.
 */
export const apiMethods = [
  ...serverMethods,
  ...gcMethods,
  ...tokenMethods,
  ...sendMethods,
  ...sharedTokenMethods,
  ...recvMethods,
] as const;

type MethodList = readonly MethodSpec[];

/** name → {params (as a caller writes them), result} for a list of method specs */
export type MethodTypes<L extends MethodList> = {
  [S in L[number] as S["name"]]: { params: z.input<S["params"]>; result: z.output<S["result"]> };
};

type AsyncTypes<M> = {
  [K in keyof M as K extends string ? `${K}Async` : never]: M[K] extends { params: infer P }
    ? { params: P; result: AsyncRequest }
    : never;
};

/** Typed signatures of every documented method and its `…Async` form. */
export type ApiMethods = MethodTypes<typeof apiMethods> & AsyncTypes<MethodTypes<typeof apiMethods>>;
export type ApiMethodName = keyof ApiMethods & string;
export type ApiParams<M extends ApiMethodName> = ApiMethods[M]["params"];
export type ApiResult<M extends ApiMethodName> = ApiMethods[M]["result"];

export const ASYNC_SUFFIX = "Async";

/** Names of all methods (without Async forms). */
export function apiMethodNames(list: readonly MethodSpec[] = apiMethods): string[] {
  return list.map((m) => m.name);
}

/**
 * Resolve a method name as the console does (server.md §4): a full name as given; a bare name to
 * the server method of that name, else the single send./recv. method with it. Returns the
 * candidates when ambiguous, and the name unchanged when unknown (the server will say so).
 */
export function resolveMethodName(
  name: string,
  list: readonly MethodSpec[] = apiMethods,
): { resolved: string } | { ambiguous: string[] } {
  const isAsync = name.endsWith(ASYNC_SUFFIX) && name.length > ASYNC_SUFFIX.length;
  const base = isAsync ? name.slice(0, -ASYNC_SUFFIX.length) : name;
  const names = new Set(list.map((m) => m.name));
  const suffix = isAsync ? ASYNC_SUFFIX : "";
  if (names.has(name) || name.includes(".")) return { resolved: name };
  if (names.has(base)) return { resolved: base + suffix };
  const candidates = ["send.", "recv."].map((prefix) => prefix + base).filter((full) => names.has(full));
  if (candidates.length === 1) return { resolved: candidates[0] + suffix };
  if (candidates.length > 1) return { ambiguous: candidates.map((c) => c + suffix) };
  return { resolved: name };
}
