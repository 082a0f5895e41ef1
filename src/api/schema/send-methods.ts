import { z } from "zod";
import {
  defineMethod,
  IdSchema,
  limitParam,
  offsetParam,
  params,
  SHARED_TOKEN_GRANT,
  type TokenPermission,
} from "./define.js";
import {
  CipherSchema,
  ConnectionSchema,
  DestinationSchema,
  ManifestFilesSchema,
  ManifestSchema,
  ManifestStatusSchema,
  OverwriteSchema,
  PublicKeySchema,
  RateControlSchema,
  TransferFileSchema,
  TransferSchema,
  TransferStatusSchema,
  UserDataSchema,
} from "./send-structures.js";

const DEST = "Destinations";
const CONN = "Connections";
const MANIFEST = "Manifests";
const TRANSFER = "Transfers";
const USERDATA = "User data";

/** Methods a shared-token session may also call, on its own objects and its manifest (api.md §1.4). */
const DOWNLOAD_OR_SHARED: readonly TokenPermission[] = ["download", SHARED_TOKEN_GRANT];

const port = z.number().int().min(1).max(65535);
const rate = z.number().int().min(1).describe("kbps");
const ownerParam = z.string().optional().describe('superuser only: whose objects; "*" = all');
const statusFilter = <T extends z.ZodTypeAny>(s: T) =>
  z
    .union([s, z.array(s)])
    .optional()
    .transform((v): z.output<T>[] | undefined =>
      v === undefined ? undefined : Array.isArray(v) ? (v as z.output<T>[]) : [v as z.output<T>],
    )
    .describe("filter: one status or a list");

const destinationSettings = {
  destinationAddress: z.string().min(1).max(253).describe("receiver host name or IP"),
  destinationPort: port.describe("receiver UDP port"),
  destinationPublicKey: PublicKeySchema.nullable().describe("receiver key; null = trust on first use"),
  cipher: CipherSchema.describe("preferred cipher; default: server --cipher"),
  rateControlMethod: RateControlSchema.describe("default: server --default-rate-control"),
  sendRate: rate.describe("kbps: rate for fixed, starting rate otherwise"),
  sendRateMin: rate.describe("kbps lower bound"),
  sendRateMax: rate.describe("kbps upper bound"),
  relayHost: z.string().nullable().describe('sender-side relay; "" forces direct'),
  relayPort: port.describe("relay control (and UDP) port"),
  localAddress: z.string().nullable().describe("local address to bind the socket to"),
  localPort: z.number().int().min(0).max(65535).describe("local UDP port; 0 = ephemeral"),
  maxActiveTransfers: z.number().int().min(1).max(64).describe("transfers sending at once"),
  userData: UserDataSchema,
};

export const createDestinationMethod = defineMethod({
  name: "send.createDestination",
  section: DEST,
  access: "session",
  summary:
    "Creates a destination and its connection, which handshakes at once. The same identity and settings return the existing one; different settings are a CONFLICT.",
  params: params({
    ...destinationSettings,
    destinationPort: destinationSettings.destinationPort.default(8886),
    destinationPublicKey: destinationSettings.destinationPublicKey.default(null),
    cipher: destinationSettings.cipher.optional(),
    rateControlMethod: destinationSettings.rateControlMethod.optional(),
    sendRate: destinationSettings.sendRate.optional(),
    sendRateMin: destinationSettings.sendRateMin.optional(),
    sendRateMax: destinationSettings.sendRateMax.optional(),
    relayHost: destinationSettings.relayHost.optional(),
    relayPort: destinationSettings.relayPort.optional(),
    localAddress: destinationSettings.localAddress.default(null),
    localPort: destinationSettings.localPort.default(0),
    maxActiveTransfers: destinationSettings.maxActiveTransfers.default(1),
    userData: UserDataSchema.default({}),
  }),
  result: DestinationSchema,
  errors: ["INVALID_ARGUMENT", "CONFLICT"],
  tokenPermissions: DOWNLOAD_OR_SHARED,
});

export const getDestinationMethod = defineMethod({
  name: "send.getDestination",
  section: DEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "One destination.",
  params: params({ destinationId: IdSchema }),
  result: DestinationSchema,
  errors: ["NOT_FOUND"],
});

export const getDestinationsMethod = defineMethod({
  name: "send.getDestinations",
  section: DEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "The caller's destinations (superuser: anyone's), in creation order.",
  params: params({ owner: ownerParam, offset: offsetParam, limit: limitParam }),
  result: z.array(DestinationSchema),
});

const updatable = Object.fromEntries(
  Object.entries(destinationSettings).map(([k, v]) => [k, v.optional()]),
) as { [K in keyof typeof destinationSettings]: z.ZodOptional<(typeof destinationSettings)[K]> };

export const updateDestinationMethod = defineMethod({
  name: "send.updateDestination",
  section: DEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary:
    "Changes settings. Rates and maxActiveTransfers apply at once; address, port, key, cipher, relay or local binding reconnect (active transfers continue from what the receiver acknowledged).",
  params: params({ destinationId: IdSchema, ...updatable }),
  result: DestinationSchema,
  errors: ["NOT_FOUND", "INVALID_ARGUMENT", "CONFLICT"],
});

export const deleteDestinationMethod = defineMethod({
  name: "send.deleteDestination",
  section: DEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "Closes the connection and removes the destination; transfer records stay.",
  params: params({
    destinationId: IdSchema,
    force: z.boolean().default(false).describe("cancel its unfinished transfers first"),
  }),
  result: z.null(),
  errors: ["NOT_FOUND", "CONFLICT"],
});

export const getConnectionMethod = defineMethod({
  name: "send.getConnection",
  section: CONN,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "The latest 1 s snapshot of a connection.",
  params: params({ connectionId: IdSchema }),
  result: ConnectionSchema,
  errors: ["NOT_FOUND"],
});

export const getConnectionsMethod = defineMethod({
  name: "send.getConnections",
  section: CONN,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "Snapshots of the caller's connections (superuser: anyone's).",
  params: params({
    destinationId: IdSchema.nullable().default(null).describe("only this destination's connection"),
    owner: ownerParam,
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(ConnectionSchema),
});

const mappingEntry = z.union([
  z.string().min(1).describe('"src:dest" (\\: is a literal colon) or "src"'),
  z.object({ srcPath: z.string().min(1), destPath: z.string().optional() }).strict(),
]);

export const createManifestMethod = defineMethod({
  name: "send.createManifest",
  section: MANIFEST,
  access: "session",
  summary:
    "Returns at once (status pending); the server then walks the sources and sets status complete or error.",
  params: params({
    fileMappings: z.array(mappingEntry).min(1, "must not be empty").max(100_000),
    userData: UserDataSchema.default({}),
  }),
  result: ManifestSchema,
  errors: ["INVALID_ARGUMENT"],
  tokenPermissions: ["download"],
});

export const getManifestMethod = defineMethod({
  name: "send.getManifest",
  section: MANIFEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "One manifest.",
  params: params({ manifestId: IdSchema }),
  result: ManifestSchema,
  errors: ["NOT_FOUND"],
});

export const getManifestsMethod = defineMethod({
  name: "send.getManifests",
  section: MANIFEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary:
    "The caller's manifests (superuser: anyone's), in creation order. A shared-token session gets its shared manifest, which is how the holder of a link learns its manifestId.",
  params: params({
    status: statusFilter(ManifestStatusSchema),
    owner: ownerParam,
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(ManifestSchema),
});

export const getManifestFilesMethod = defineMethod({
  name: "send.getManifestFiles",
  section: MANIFEST,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "A page of a manifest's entries, in manifest order.",
  params: params({ manifestId: IdSchema, offset: offsetParam, limit: limitParam }),
  result: ManifestFilesSchema,
  errors: ["NOT_FOUND", "CONFLICT"],
});

export const waitForManifestMethod = defineMethod({
  name: "send.waitForManifest",
  section: MANIFEST,
  access: "session",
  tokenPermissions: ["download"],
  summary: "Returns when the manifest is no longer processing, or after the timeout.",
  params: params({
    manifestId: IdSchema,
    timeoutSeconds: z.number().min(0).nullable().default(null).describe("null = until done"),
  }),
  result: ManifestSchema,
  errors: ["NOT_FOUND"],
});

export const deleteManifestMethod = defineMethod({
  name: "send.deleteManifest",
  section: MANIFEST,
  access: "session",
  tokenPermissions: ["download"],
  summary: "Removes a manifest not used by an unfinished transfer or offered by a live shared token.",
  params: params({ manifestId: IdSchema }),
  result: z.null(),
  errors: ["NOT_FOUND", "CONFLICT"],
});

export const createTransferMethod = defineMethod({
  name: "send.createTransfer",
  section: TRANSFER,
  access: "session",
  summary:
    "Sends a manifest to a destination: pending until the manifest is complete, then queued by (priority, requestTime) on its destination. A shared-token session may send only its shared manifest; each call counts one download (FORBIDDEN once downloadLimit is reached).",
  params: params({
    manifestId: IdSchema,
    destinationId: IdSchema,
    destinationPath: z
      .string()
      .max(4096)
      .default("")
      .describe(
        "receiver directory under its sandbox root, or under the receiveToken's path when one is given",
      ),
    priority: z.number().int().min(0).max(65535).default(100).describe("lower leaves the queue first"),
    checkpointFrequencySeconds: z
      .number()
      .int()
      .min(0)
      .nullable()
      .optional()
      .describe("default: server --checkpoint-frequency; 0/null = off"),
    overwrite: OverwriteSchema.default("always"),
    receiveToken: IdSchema.nullable()
      .default(null)
      .describe("upload token of the receiving server: files are written as its owner, below its path"),
    receiveTokenPassword: z.string().nullable().default(null),
    userData: UserDataSchema.default({}),
  }),
  result: TransferSchema,
  errors: ["NOT_FOUND", "CONFLICT", "INVALID_ARGUMENT", "FORBIDDEN"],
  tokenPermissions: DOWNLOAD_OR_SHARED,
});

const transferIdParams = params({ transferId: IdSchema });

export const getTransferMethod = defineMethod({
  name: "send.getTransfer",
  section: TRANSFER,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "One transfer (latest snapshot).",
  params: transferIdParams,
  result: TransferSchema,
  errors: ["NOT_FOUND"],
});

export const getTransfersMethod = defineMethod({
  name: "send.getTransfers",
  section: TRANSFER,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "The caller's transfers (superuser: anyone's), in requestTime order.",
  params: params({
    status: statusFilter(TransferStatusSchema),
    destinationId: IdSchema.nullable().default(null),
    manifestId: IdSchema.nullable().default(null),
    owner: ownerParam,
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(TransferSchema),
});

export const getTransferFilesMethod = defineMethod({
  name: "send.getTransferFiles",
  section: TRANSFER,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "Per-file progress, in manifest order.",
  params: params({
    transferId: IdSchema,
    status: statusFilter(z.enum(["pending", "transferring", "complete", "skipped", "error"])),
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(TransferFileSchema),
  errors: ["NOT_FOUND"],
});

export const waitForTransferMethod = defineMethod({
  name: "send.waitForTransfer",
  section: TRANSFER,
  access: "session",
  tokenPermissions: DOWNLOAD_OR_SHARED,
  summary: "Returns when the transfer is in one of `statuses`, or after the timeout.",
  params: params({
    transferId: IdSchema,
    statuses: z.array(TransferStatusSchema).min(1).default(["complete", "error", "cancelled"]),
    timeoutSeconds: z.number().min(0).nullable().default(null),
  }),
  result: TransferSchema,
  errors: ["NOT_FOUND"],
});

const transition = <const N extends string>(name: N, summary: string) =>
  defineMethod({
    name,
    section: TRANSFER,
    access: "session",
    tokenPermissions: DOWNLOAD_OR_SHARED,
    summary,
    params: transferIdParams,
    result: TransferSchema,
    errors: ["NOT_FOUND", "CONFLICT"],
  });

export const suspendTransferMethod = transition(
  "send.suspendTransfer",
  "Stops sending and frees the slot; the receiver keeps partial files (pending, queued, transferring).",
);
export const resumeTransferMethod = transition(
  "send.resumeTransfer",
  "suspended → queued (pending while the manifest is); error → queued (retry, confirmed blocks are not resent).",
);
export const cancelTransferMethod = transition(
  "send.cancelTransfer",
  "Any non-final state → cancelled; the receiver deletes this transfer's partial files.",
);

export const failTransferMethod = defineMethod({
  name: "send.failTransfer",
  section: TRANSFER,
  access: "session",
  tokenPermissions: ["download"],
  summary: "Forces error (FAILED_BY_USER); resumeTransfer can still retry.",
  params: params({
    transferId: IdSchema,
    errorMessage: z.string().max(4096).default("failed by user"),
  }),
  result: TransferSchema,
  errors: ["NOT_FOUND", "CONFLICT"],
});

export const deleteTransferMethod = defineMethod({
  name: "send.deleteTransfer",
  section: TRANSFER,
  access: "session",
  tokenPermissions: ["download"],
  summary: "Removes the record, cancelling the transfer first if it is not final.",
  params: transferIdParams,
  result: z.null(),
  errors: ["NOT_FOUND"],
});

export const setSendRateMethod = defineMethod({
  name: "send.setSendRate",
  section: TRANSFER,
  access: "session",
  tokenPermissions: ["download"],
  summary:
    "Changes the rate settings of a destination's connection while it runs (exactly one of transferId, destinationId).",
  params: params({
    transferId: IdSchema.optional(),
    destinationId: IdSchema.optional(),
    sendRate: rate.optional(),
    sendRateMin: rate.optional(),
    sendRateMax: rate.optional(),
    rateControlMethod: RateControlSchema.optional(),
  }),
  result: z.union([TransferSchema, DestinationSchema]),
  errors: ["NOT_FOUND", "INVALID_ARGUMENT"],
});

export const updateObjectUserDataMethod = defineMethod({
  name: "send.updateObjectUserData",
  section: USERDATA,
  access: "session",
  tokenPermissions: ["download"],
  summary:
    "Adds or replaces keys on a destination, manifest, transfer, shared token or API token; other keys are kept.",
  params: params({ objectId: IdSchema, userData: UserDataSchema }),
  result: UserDataSchema,
  errors: ["NOT_FOUND", "INVALID_ARGUMENT"],
});

export const deleteObjectUserDataMethod = defineMethod({
  name: "send.deleteObjectUserData",
  section: USERDATA,
  access: "session",
  tokenPermissions: ["download"],
  summary: "Removes keys from an object's user data; absent keys are ignored.",
  params: params({ objectId: IdSchema, keys: z.array(z.string()) }),
  result: UserDataSchema,
  errors: ["NOT_FOUND"],
});

export const sendMethods = [
  createDestinationMethod,
  getDestinationMethod,
  getDestinationsMethod,
  updateDestinationMethod,
  deleteDestinationMethod,
  getConnectionMethod,
  getConnectionsMethod,
  createManifestMethod,
  getManifestMethod,
  getManifestsMethod,
  getManifestFilesMethod,
  waitForManifestMethod,
  deleteManifestMethod,
  createTransferMethod,
  getTransferMethod,
  getTransfersMethod,
  getTransferFilesMethod,
  waitForTransferMethod,
  suspendTransferMethod,
  resumeTransferMethod,
  cancelTransferMethod,
  failTransferMethod,
  deleteTransferMethod,
  setSendRateMethod,
  updateObjectUserDataMethod,
  deleteObjectUserDataMethod,
] as const;
