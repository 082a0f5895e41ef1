import { z } from "zod";
import {
  defineMethod,
  IdSchema,
  limitParam,
  offsetParam,
  params,
  structure,
  TimestampSchema,
} from "./define.js";
import { UserDataSchema } from "./send-structures.js";
import { SessionSchema } from "./structures.js";

const nullableTimestamp = TimestampSchema.nullable();

export const TokenSchema = structure(
  "Token",
  "An API token or a shared token (api.md §5.15). `token` is a credential: treat it as secret unless " +
    "`passwordRequired`.",
  z.object({
    creationTime: TimestampSchema,
    description: z.string(),
    downloadCount: z
      .number()
      .int()
      .nullable()
      .describe("shared: transfers created with it; null for API tokens"),
    downloadLimit: z.number().int().nullable().describe("shared: maximum transfers; null = unlimited"),
    expiryTime: nullableTimestamp.describe("null = never"),
    lastUseTime: nullableTimestamp.describe("last login with it; null = never used"),
    link: z.string().nullable().describe("shared: the slipstream:// download link; null for API tokens"),
    manifestId: IdSchema.nullable().describe("shared: the manifest offered"),
    owner: z.string().describe("creating user"),
    ownerToken: IdSchema.nullable().describe(
      "token that created it (shared tokens made by an API-token session)",
    ),
    ownerTokenSession: IdSchema.nullable().describe("sessionId of that session"),
    passwordRequired: z.boolean().describe("authToken needs a password"),
    path: z.string().nullable().describe("API: the confining virtual path"),
    permissions: z
      .array(z.string())
      .describe('API: subset of download, upload, modify, share; shared: always ["download"]'),
    token: IdSchema.describe("the token string"),
    tokenType: z.enum(["api", "shared"]),
    userData: UserDataSchema,
  }),
);
export type Token = z.infer<typeof TokenSchema>;

const SESSION = "Session";
const TOKENS = "API tokens";
const SHARED = "Shared tokens (download links)";
const tokenParam = IdSchema.describe("the token string");
/** The filter and paging parameters of getAPITokens and send.getSharedTokens. */
const tokenListParams = {
  owner: z
    .string()
    .optional()
    .describe('superuser only: another user\'s tokens; "*" = all (default: caller)'),
  includeExpired: z.boolean().default(false).describe("also list expired tokens not yet collected"),
  offset: offsetParam,
  limit: limitParam,
};

export const authTokenMethod = defineMethod({
  name: "authToken",
  section: SESSION,
  access: "public",
  summary:
    "Logs in with an API token (the session is confined to the token's path and permissions) or a shared token (the session reaches the shared manifest and its own destinations and transfers).",
  params: params({
    token: tokenParam,
    password: z
      .string()
      .nullable()
      .default(null)
      .describe("required when the token's passwordRequired is true"),
  }),
  result: SessionSchema,
  errors: ["AUTH_FAILED", "UNAVAILABLE"],
});

export const createAPITokenMethod = defineMethod({
  name: "createAPIToken",
  section: TOKENS,
  access: "session",
  summary: "Creates an API token acting as the caller, confined to `path` (password sessions only).",
  params: params({
    permissions: z
      .array(z.enum(["download", "upload", "modify", "share"]))
      .min(1)
      .default(["download"])
      .describe("subset of download, upload, modify, share (api.md §1.4)"),
    path: z
      .string()
      .default("/")
      .describe("virtual path (in the caller's view) the token is confined to; must exist"),
    description: z.string().max(1024).default("").describe("free text, ≤ 1,024 characters"),
    expirySeconds: z
      .number()
      .int()
      .min(0)
      .default(86_400)
      .describe("lifetime from now; 0 = never expires (superuser only)"),
    expiryTime: nullableTimestamp.default(null).describe("absolute expiry; overrides expirySeconds"),
    password: z.string().min(1).nullable().default(null).describe("if set, authToken needs it"),
    userData: UserDataSchema.default({}),
  }),
  result: TokenSchema,
  errors: ["UNAVAILABLE", "FORBIDDEN", "NOT_FOUND"],
});

export const getAPITokenMethod = defineMethod({
  name: "getAPIToken",
  section: TOKENS,
  access: "session",
  summary: "One API token (its owner, or an elevated superuser).",
  params: params({ token: tokenParam }),
  result: TokenSchema,
  errors: ["NOT_FOUND"],
});

export const getAPITokensMethod = defineMethod({
  name: "getAPITokens",
  section: TOKENS,
  access: "session",
  summary: "The caller's API tokens; an elevated superuser may list another user's or all (`*`).",
  params: params(tokenListParams),
  result: z.array(TokenSchema),
  errors: ["FORBIDDEN"],
});

export const deleteAPITokenMethod = defineMethod({
  name: "deleteAPIToken",
  section: TOKENS,
  access: "session",
  summary: "Revokes an API token at once: sessions opened with it end; transfers it created keep running.",
  params: params({ token: tokenParam }),
  result: z.null(),
  errors: ["NOT_FOUND"],
});

/** authToken and the API-token methods (api.md §2.1, §2.9). */
export const tokenMethods = [
  authTokenMethod,
  createAPITokenMethod,
  getAPITokenMethod,
  getAPITokensMethod,
  deleteAPITokenMethod,
] as const;

export const createSharedTokenMethod = defineMethod({
  name: "send.createSharedToken",
  section: SHARED,
  access: "session",
  tokenPermissions: ["share"],
  summary:
    "Offers a manifest for download to whoever holds the token (or its link): they log in with authToken and create transfers of it to their own destinations.",
  params: params({
    manifestId: IdSchema.describe("the files offered; must not be in error"),
    description: z.string().max(1024).default("").describe("free text, ≤ 1,024 characters"),
    expirySeconds: z
      .number()
      .int()
      .min(0)
      .default(604_800)
      .describe("lifetime from now (7 days); 0 = never (superuser only)"),
    expiryTime: nullableTimestamp.default(null).describe("absolute expiry; overrides expirySeconds"),
    downloadLimit: z
      .number()
      .int()
      .min(0)
      .nullable()
      .default(null)
      .describe("transfers that may be created with it; null = unlimited"),
    password: z.string().min(1).nullable().default(null).describe("passphrase needed by authToken"),
    userData: UserDataSchema.default({}),
  }),
  result: TokenSchema,
  errors: ["UNAVAILABLE", "NOT_FOUND", "CONFLICT", "NOT_SUPERUSER"],
});

export const getSharedTokenMethod = defineMethod({
  name: "send.getSharedToken",
  section: SHARED,
  access: "session",
  tokenPermissions: ["share"],
  summary: "One shared token (its owner, or an elevated superuser).",
  params: params({ token: tokenParam }),
  result: TokenSchema,
  errors: ["NOT_FOUND"],
});

export const getSharedTokensMethod = defineMethod({
  name: "send.getSharedTokens",
  section: SHARED,
  access: "session",
  tokenPermissions: ["share"],
  summary: "The caller's shared tokens; an elevated superuser may list another user's or all (`*`).",
  params: params({
    manifestId: IdSchema.nullable().default(null).describe("only tokens offering this manifest"),
    ...tokenListParams,
  }),
  result: z.array(TokenSchema),
  errors: ["FORBIDDEN"],
});

export const deleteSharedTokenMethod = defineMethod({
  name: "send.deleteSharedToken",
  section: SHARED,
  access: "session",
  tokenPermissions: ["share"],
  summary: "Revokes a shared token at once: sessions opened with it end; transfers it started continue.",
  params: params({ token: tokenParam }),
  result: z.null(),
  errors: ["NOT_FOUND"],
});

/** The shared-token methods (api.md §3.6). */
export const sharedTokenMethods = [
  createSharedTokenMethod,
  getSharedTokenMethod,
  getSharedTokensMethod,
  deleteSharedTokenMethod,
] as const;
