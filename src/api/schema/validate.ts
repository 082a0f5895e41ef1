import type { z } from "zod";
import { ApiError } from "../rpc/errors.js";

function describeReceived(issue: z.ZodIssue): string {
  return "received" in issue ? String(issue.received) : "something else";
}

/** Turn the first zod issue into INVALID_ARGUMENT whose message and `data.param` name the parameter. */
export function issueToError(issue: z.ZodIssue): ApiError {
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    return ApiError.invalidArgument(
      `unknown parameter '${[...issue.path, key].join(".")}'`,
      String(issue.path[0] ?? key),
    );
  }
  if (issue.path.length === 0) {
    return ApiError.invalidArgument("params must be an object of named parameters");
  }
  const param = String(issue.path[0]);
  const path = issue.path.join(".");
  if (issue.code === "invalid_type" && issue.received === "undefined") {
    return ApiError.invalidArgument(`missing required parameter '${path}'`, param);
  }
  if (issue.code === "invalid_type") {
    return ApiError.invalidArgument(
      `parameter '${path}' must be ${issue.expected}, not ${describeReceived(issue)}`,
      param,
    );
  }
  return ApiError.invalidArgument(`parameter '${path}': ${issue.message}`, param);
}

/**
 * Validate JSON-RPC `params` (api.md §1.1: by name only; absent = no parameters) and apply
 * defaults. Throws INVALID_ARGUMENT naming the parameter.
 */
export function parseParams<P extends z.ZodTypeAny>(schema: P, raw: unknown): z.output<P> {
  if (raw === undefined) raw = {};
  if (Array.isArray(raw)) {
    throw ApiError.invalidArgument(
      "params must be an object of named parameters; positional arrays are not accepted",
    );
  }
  if (typeof raw !== "object" || raw === null) {
    throw ApiError.invalidArgument("params must be an object of named parameters");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw issueToError(parsed.error.issues[0]);
  return parsed.data as z.output<P>;
}
