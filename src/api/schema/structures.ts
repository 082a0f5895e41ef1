import { z } from "zod";
import { IdSchema, structure, TimestampSchema } from "./define.js";

const nullableTimestamp = TimestampSchema.nullable();

export const SessionSchema = structure(
  "Session",
  "A logged-in session (api.md §5.1). `sessionKey` only in the results of `auth`/`authToken` and their Async forms.",
  z.object({
    authMethod: z.enum(["password", "apiToken", "sharedToken"]).describe("how the session logged in"),
    canElevate: z.boolean().describe("the user may call superuser()"),
    clientAddress: z.string().describe("client ip:port as seen by the server"),
    creationTime: TimestampSchema,
    expiryTime: TimestampSchema.describe("when the session ends if idle from now on"),
    lastUseTime: TimestampSchema,
    path: z.string().nullable().describe("token sessions: the confining virtual path"),
    permissions: z
      .array(z.string())
      .nullable()
      .describe(
        'token sessions: granted permissions (shared-token sessions: ["shared"]); null = unrestricted',
      ),
    sessionId: IdSchema.describe("public id"),
    sessionKey: z.string().optional().describe("secret bearer, 64 hex characters"),
    superuser: z.boolean().describe("session is elevated"),
    token: IdSchema.nullable().describe("token used to log in"),
    user: z.string().describe("user the session acts as"),
  }),
);
export type Session = z.infer<typeof SessionSchema>;

export const RequestSchema = structure(
  "Request",
  "Returned at once by every `…Async` call (api.md §5.2).",
  z.object({ requestId: IdSchema }),
);
export type AsyncRequest = z.infer<typeof RequestSchema>;

export const RequestStatusSchema = structure(
  "RequestStatus",
  "State of an asynchronous request (api.md §5.2).",
  z.object({
    requestId: IdSchema,
    method: z.string().describe("underlying method, e.g. `ls`"),
    processing: z.boolean().describe("still running"),
    status: z.enum(["processing", "complete", "error"]),
    errorMessage: z.string().describe('"" unless status is error'),
    error: z
      .object({ code: z.number().int(), message: z.string(), data: z.record(z.unknown()) })
      .nullable()
      .describe("the JSON-RPC error object when status is error"),
    creationTime: TimestampSchema,
    endTime: nullableTimestamp.describe("null while processing"),
    expiryTime: nullableTimestamp.describe("when the record is dropped; null while processing"),
  }),
);
export type RequestStatus = z.infer<typeof RequestStatusSchema>;

export const RecvPortSchema = structure(
  "RecvPort",
  "One UDP receive port (api.md §5.4).",
  z.object({
    host: z.string().describe("local bind address"),
    port: z.number().int().describe("local UDP port (actual)"),
    publicAddress: z.string().describe("host:port senders should use"),
    relayHost: z.string().nullable(),
    relayPort: z.number().int().nullable(),
    relayState: z.enum(["connecting", "connected", "tunnelled", "disconnected"]).nullable(),
  }),
);
export type RecvPort = z.infer<typeof RecvPortSchema>;

export const ReceiverInfoSchema = structure(
  "ReceiverInfo",
  "The receive side of a server (api.md §5.4).",
  z.object({
    activeTransferCount: z
      .number()
      .int()
      .nullable()
      .describe("receive records in receiving (null before authentication)"),
    allowAnonymous: z.boolean(),
    maxIncomingTransfers: z.number().int(),
    onlyAuthorizedClientsAllowed: z.boolean(),
    recvPorts: z.array(RecvPortSchema),
  }),
);
export type ReceiverInfo = z.infer<typeof ReceiverInfoSchema>;

export const BandwidthLimitsSchema = structure(
  "BandwidthLimits",
  "Server-wide bandwidth limits, kbps (api.md §5.17).",
  z.object({
    borrowIncomingRate: z.boolean(),
    borrowOutgoingRate: z.boolean(),
    effectiveIncomingLimit: z.number().int(),
    effectiveOutgoingLimit: z.number().int(),
    fixed: z.boolean().describe("set on the command line; updateBandwidthLimits refused"),
    incomingRate: z.number().int(),
    incomingRateLimit: z.number().int(),
    outgoingRate: z.number().int(),
    outgoingRateLimit: z.number().int(),
  }),
);
export type BandwidthLimits = z.infer<typeof BandwidthLimitsSchema>;

export const GarbageCollectSettingsSchema = structure(
  "GarbageCollectSettings",
  "Lifetime settings (api.md §5.18); 0 for an expiry means never.",
  z.object({
    intervalSeconds: z.number().int(),
    transferExpirySeconds: z.number().int(),
    manifestExpirySeconds: z.number().int(),
    recvTransferExpirySeconds: z.number().int(),
    requestExpirySeconds: z.number().int(),
    eventLogExpirySeconds: z.number().int(),
    eventLogMaxEntries: z.number().int(),
    lastRunTime: nullableTimestamp,
    nextRunTime: nullableTimestamp,
  }),
);
export type GarbageCollectSettings = z.infer<typeof GarbageCollectSettingsSchema>;

export const ServerConfigurationSchema = structure(
  "ServerConfiguration",
  "Every `slipstream server` option under its camelCase name with its effective value, plus `configFile`, " +
    "`sources` (option → default | file | command-line) and `garbageCollect` (api.md §5.5). Elevated sessions only.",
  z.record(z.unknown()),
);

export const ServerInfoSchema = structure(
  "ServerInfo",
  "Facts about the server (api.md §5.3). Before authentication only the public fields are present " +
    "(`apiTokensAvailable`, `apiVersion`, `authRequired`, `certificateFingerprint`, `encryptionAvailable`, " +
    "`externalAddress`, `minApiVersion`, `minCipher`, `publicKey`, `receiver`, `serverId`, `serverName`, " +
    "`serverUid`, `sharedTokensAvailable`, `version`); `configuration` only for elevated sessions.",
  z.object({
    allowRemoteControl: z.boolean().optional(),
    apiHost: z.string().optional(),
    apiPort: z.number().int().optional(),
    apiTokensAvailable: z.boolean(),
    apiVersion: z.number().int(),
    authRequired: z.boolean(),
    bandwidthLimits: BandwidthLimitsSchema.optional(),
    certificateExpiryTime: TimestampSchema.optional(),
    certificateFingerprint: z.string().describe("SHA-256 of the certificate (DER), 64 hex characters"),
    configuration: ServerConfigurationSchema.optional(),
    encryptionAvailable: z.boolean(),
    eventLogAvailable: z.boolean().optional(),
    externalAddress: z.string().nullable(),
    hostName: z.string().optional(),
    minApiVersion: z.number().int(),
    minCipher: z.string(),
    nodeVersion: z.string().optional(),
    platform: z.string().optional(),
    publicKey: z
      .string()
      .nullable()
      .describe("X25519 public key, base64url (null until the key pair exists)"),
    receiver: ReceiverInfoSchema,
    revision: z.number().int().optional(),
    sandboxed: z.boolean().optional(),
    serverId: IdSchema.describe("this process instance; new at every launch"),
    serverName: z.string(),
    serverUid: IdSchema.describe("persistent identity"),
    sharedTokensAvailable: z.boolean(),
    startTime: TimestampSchema.optional(),
    version: z.string(),
  }),
);
export type ServerInfo = z.infer<typeof ServerInfoSchema>;

export const EventLogEntrySchema = structure(
  "EventLogEntry",
  "One event-log entry (api.md §5.16) with the event's own fields (api.md §7).",
  z
    .object({
      _event: z.string().describe("event name"),
      _seq: z.number().int().describe("strictly increasing per server, never reused"),
      _serverId: IdSchema.describe("instance that logged it"),
      _timestamp: TimestampSchema,
      owner: z.string().nullable().describe("owner of the object concerned; null = superusers only"),
    })
    .catchall(z.unknown()),
);
export type EventLogEntryStructure = z.infer<typeof EventLogEntrySchema>;

export const LsEntrySchema = structure(
  "LsEntry",
  "One directory entry (api.md §5.19).",
  z.object({
    mode: z.string().nullable().describe('POSIX permission bits, e.g. "0644"'),
    mtime: TimestampSchema,
    name: z.string().describe("base name"),
    path: z.string().describe("virtual path"),
    size: z.number().int().describe("bytes; 0 for directories"),
    target: z
      .string()
      .nullable()
      .describe("link target (virtual path) for symlink; null if outside the view"),
    type: z.enum(["file", "dir", "symlink", "other"]),
  }),
);
export type LsEntryStructure = z.infer<typeof LsEntrySchema>;

export const DuResultSchema = structure(
  "DuResult",
  "Disk usage under a path (api.md §5.19); `dirCount` counts the directories below the path.",
  z.object({
    path: z.string(),
    totalSize: z.number().int(),
    fileCount: z.number().int(),
    dirCount: z.number().int(),
  }),
);
export type DuResultStructure = z.infer<typeof DuResultSchema>;
