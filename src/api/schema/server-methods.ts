import { z } from "zod";
import {
  ANY_API_TOKEN,
  defineMethod,
  IdSchema,
  limitParam,
  noParams,
  offsetParam,
  params,
  TimestampSchema,
} from "./define.js";
import {
  DuResultSchema,
  EventLogEntrySchema,
  LsEntrySchema,
  RequestSchema,
  RequestStatusSchema,
  ServerInfoSchema,
  SessionSchema,
} from "./structures.js";

const requestIdParam = z
  .union([IdSchema, RequestSchema.strict()])
  .transform((value) => (typeof value === "string" ? value : value.requestId))
  .describe("which request: its Id or the Request itself");

const SESSION = "Session";
const INFO = "Information and diagnostics";
const ASYNC = "Asynchronous requests";
const EVENTS = "Event log and subscriptions";
const FILES = "Files";
const FILE_READ = ["download", "upload", "modify"] as const;

export const authMethod = defineMethod({
  name: "auth",
  section: SESSION,
  access: "public",
  summary: "Logs a user in with a password from the users file.",
  params: params({
    user: z.string().describe("user name"),
    password: z.string().describe("password"),
  }),
  result: SessionSchema,
  errors: ["AUTH_FAILED", "UNAVAILABLE"],
});

export const superuserMethod = defineMethod({
  name: "superuser",
  section: SESSION,
  access: "session",
  summary: "Elevates the current session (password sessions of users who may elevate).",
  params: noParams,
  result: SessionSchema,
  errors: ["NOT_SUPERUSER", "FORBIDDEN"],
});

export const getSessionMethod = defineMethod({
  name: "getSession",
  section: SESSION,
  access: "session",
  summary: "The current session, without its sessionKey.",
  params: noParams,
  result: SessionSchema,
  tokenPermissions: "always",
});

export const logoutMethod = defineMethod({
  name: "logout",
  section: SESSION,
  access: "session",
  summary: "Ends the session; its running async requests finish, its subscriptions end.",
  params: noParams,
  result: z.null(),
  noAsync: true,
  tokenPermissions: "always",
});

export const getServerInfoMethod = defineMethod({
  name: "getServerInfo",
  section: INFO,
  access: "public",
  summary:
    "Facts about the server; only public fields before authentication, configuration only when elevated.",
  params: noParams,
  result: ServerInfoSchema,
  tokenPermissions: "always",
});

export const echoMethod = defineMethod({
  name: "echo",
  section: INFO,
  access: "public",
  summary: "Returns `text` unchanged.",
  params: params({ text: z.string().max(65_536).default("").describe("returned unchanged (≤ 64 KiB)") }),
  result: z.string(),
  tokenPermissions: "always",
});

export const sleepMethod = defineMethod({
  name: "sleep",
  section: INFO,
  access: "session",
  summary: "Waits server-side; for testing clients and async handling.",
  params: params({ milliseconds: z.number().int().min(0).max(60_000).describe("0 – 60,000") }),
  result: z.null(),
  tokenPermissions: ANY_API_TOKEN,
});

export const terminateMethod = defineMethod({
  name: "terminate",
  section: INFO,
  access: "superuser",
  summary:
    "Graceful shutdown: stops accepting calls, checkpoints, exits with status 0 within 10 s. The result is sent first.",
  params: noParams,
  result: z.null(),
});

export const getRequestStatusMethod = defineMethod({
  name: "getRequestStatus",
  section: ASYNC,
  access: "public",
  summary: "State of an asynchronous request (owner of the request only); returns immediately.",
  params: params({ requestId: requestIdParam }),
  result: RequestStatusSchema,
  errors: ["NOT_FOUND"],
  noAsync: true,
  tokenPermissions: "always",
});

export const getRequestResultMethod = defineMethod({
  name: "getRequestResult",
  section: ASYNC,
  access: "public",
  summary: "Waits for an asynchronous request and returns its method's result, or fails with its error.",
  params: params({
    requestId: requestIdParam,
    timeoutSeconds: z
      .number()
      .min(0)
      .nullable()
      .default(null)
      .describe("wait at most this long; null waits until done"),
  }),
  result: z.unknown().describe("the result of the underlying method"),
  errors: ["NOT_FOUND", "UNAVAILABLE"],
  noAsync: true,
  tokenPermissions: "always",
});

export const getEventLogMethod = defineMethod({
  name: "getEventLog",
  section: EVENTS,
  access: "session",
  summary: "Pages through the event log: entries about the caller's objects; elevated superusers see all.",
  params: params({
    afterSeq: z.number().int().min(0).default(0).describe("only entries with _seq greater than this"),
    since: TimestampSchema.nullable().default(null).describe("only entries at or after this time"),
    until: TimestampSchema.nullable().default(null).describe("only entries before this time"),
    events: z
      .array(z.string())
      .nullable()
      .default(null)
      .describe("event names; `prefix*` patterns allowed; null = all"),
    order: z.enum(["asc", "desc"]).default("asc").describe("by _seq"),
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(EventLogEntrySchema),
  errors: ["UNAVAILABLE"],
  tokenPermissions: ANY_API_TOKEN,
});

export const subscribeMethod = defineMethod({
  name: "subscribe",
  section: EVENTS,
  access: "session",
  summary: "Pushes `event` (and `snapshot`) notifications on this WebSocket.",
  params: params({
    events: z
      .array(z.string())
      .default([])
      .describe('event names or `prefix*` patterns; ["*"] = all the session may see'),
    snapshots: z
      .array(z.enum(["transfers", "connections", "recvTransfers", "sources"]))
      .default([])
      .describe("statistics snapshots to push"),
    ids: z.array(IdSchema).nullable().default(null).describe("restrict snapshots to these object ids"),
  }),
  result: z.object({ subscriptionId: IdSchema }),
  errors: ["UNAVAILABLE"],
  noAsync: true,
  tokenPermissions: ANY_API_TOKEN,
});

export const unsubscribeMethod = defineMethod({
  name: "unsubscribe",
  section: EVENTS,
  access: "session",
  summary: "Ends a subscription.",
  params: params({ subscriptionId: IdSchema }),
  result: z.null(),
  errors: ["NOT_FOUND"],
  noAsync: true,
  tokenPermissions: ANY_API_TOKEN,
});

export const lsRootsMethod = defineMethod({
  name: "lsRoots",
  section: FILES,
  access: "session",
  summary: "Top-level entries of the caller's view (the mapped virtual roots, or the contents of `/`).",
  params: noParams,
  result: z.array(LsEntrySchema),
  tokenPermissions: FILE_READ,
});

export const lsMethod = defineMethod({
  name: "ls",
  section: FILES,
  access: "session",
  summary: "Lists a directory (or one file) in name order.",
  params: params({
    path: z.string().default("/").describe("directory (or file: one entry)"),
    recursive: z.boolean().default(false).describe("descend into subdirectories (entries carry full paths)"),
    includeHidden: z.boolean().default(true).describe("include names starting with `.`"),
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(LsEntrySchema),
  errors: ["NOT_FOUND", "FORBIDDEN"],
  tokenPermissions: FILE_READ,
});

export const duMethod = defineMethod({
  name: "du",
  section: FILES,
  access: "session",
  summary: "Total size and counts of the files under a path.",
  params: params({ path: z.string().describe("file or directory") }),
  result: DuResultSchema,
  errors: ["NOT_FOUND", "FORBIDDEN"],
  tokenPermissions: FILE_READ,
});

export const mkdirMethod = defineMethod({
  name: "mkdir",
  section: FILES,
  access: "session",
  summary: "Creates a directory.",
  params: params({
    path: z.string().describe("directory to create"),
    parents: z
      .boolean()
      .default(true)
      .describe("create missing parents; an existing directory is not an error"),
  }),
  result: z.null(),
  errors: ["CONFLICT", "FORBIDDEN"],
  tokenPermissions: ["modify"],
});

export const mvMethod = defineMethod({
  name: "mv",
  section: FILES,
  access: "session",
  summary: "Moves or renames a file or directory.",
  params: params({
    srcPath: z.string().describe("existing file or directory"),
    destPath: z.string().describe("new path"),
    overwrite: z.boolean().default(false).describe("replace an existing file at destPath"),
  }),
  result: z.null(),
  errors: ["NOT_FOUND", "CONFLICT", "FORBIDDEN"],
  tokenPermissions: ["modify"],
});

export const rmMethod = defineMethod({
  name: "rm",
  section: FILES,
  access: "session",
  summary: "Removes a file or directory.",
  params: params({
    path: z.string().describe("file or directory"),
    recursive: z.boolean().default(false).describe("required to remove a non-empty directory"),
  }),
  result: z.null(),
  errors: ["NOT_FOUND", "CONFLICT", "FORBIDDEN"],
  tokenPermissions: ["modify"],
});

/** Every server method of api.md §2 implemented so far, in documentation order. */
export const serverMethods = [
  authMethod,
  superuserMethod,
  getSessionMethod,
  logoutMethod,
  getServerInfoMethod,
  echoMethod,
  sleepMethod,
  terminateMethod,
  getRequestStatusMethod,
  getRequestResultMethod,
  getEventLogMethod,
  subscribeMethod,
  unsubscribeMethod,
  lsRootsMethod,
  lsMethod,
  duMethod,
  mkdirMethod,
  mvMethod,
  rmMethod,
] as const;
