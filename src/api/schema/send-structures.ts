import { z } from "zod";
import { IdSchema, structure, TimestampSchema } from "./define.js";

const ts = TimestampSchema.nullable();
const kbps = z.number().int().describe("kbps");
const bytes = z.number().int().min(0).describe("bytes");

export const UserDataSchema = z
  .record(z.string().min(1).max(64), z.string().max(4096))
  .refine((m) => Object.keys(m).length <= 64, "at most 64 keys")
  .describe("flat map string → string; ≤ 64 keys, key ≤ 64 characters, value ≤ 4,096 characters");
export type UserData = z.infer<typeof UserDataSchema>;

export const PublicKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, "must be an X25519 public key as unpadded base64url (43 characters)");

export const RATE_CONTROL_METHODS = ["fixed", "adaptive", "fair", "background"] as const;
export const RateControlSchema = z.enum(RATE_CONTROL_METHODS);
export const CipherSchema = z.enum(["aes-256-gcm", "chacha20-poly1305"]);
export const TRANSFER_STATUSES = [
  "pending",
  "queued",
  "transferring",
  "suspended",
  "complete",
  "error",
  "cancelled",
] as const;
export const TransferStatusSchema = z.enum(TRANSFER_STATUSES);
export type TransferStatus = z.infer<typeof TransferStatusSchema>;
export const ManifestStatusSchema = z.enum(["pending", "complete", "error"]);
export const OverwriteSchema = z.enum(["always", "never", "differs"]);
const connState = z.enum(["disconnected", "negotiating", "connected"]);

export const ConnectionSchema = structure(
  "Connection",
  "The live UDP association of one destination, from its 1 s snapshot (api.md §5.7; the seed).",
  z.object({
    connectionId: IdSchema,
    destinationIP: z.string().describe("IP datagrams go to (resolved from destinationAddress)"),
    destinationPort: z.number().int(),
    destinationPublicKey: PublicKeySchema.nullable(),
    encryptedConnectionState: connState,
    encryptionEnabled: z.boolean(),
    lastDestinationServerId: IdSchema.nullable(),
    lastDestinationServerUid: IdSchema.nullable(),
    lastError: z.string().nullable().describe("§6.4 code; null while healthy"),
    lastErrorMessage: z.string().nullable(),
    lastRecvTime: ts.describe("latest valid datagram from the receiver"),
    lastSendTime: ts.describe("latest datagram sent"),
    numTransfersQueued: z.number().int(),
    rateControllerActive: z.boolean(),
    rateControlMethod: RateControlSchema,
    relayIP: z.string().nullable(),
    relayPort: z.number().int().nullable(),
    roundTripTimeMs: z.number().nullable().describe("smoothed RTT, ms"),
    senderIP: z.string().describe("local address of the connected socket"),
    senderPort: z.number().int(),
    sendRate: kbps.describe("configured rate, kbps"),
    sendRateAverage: kbps.describe("average over seconds with a transferring transfer, kbps"),
    sendRateAverageWindow: kbps.describe("the same over the last sendRateWindowSeconds, kbps"),
    sendRateMax: kbps,
    sendRateMin: kbps,
    snapshotTime: TimestampSchema,
    socketRecvBufferSize: bytes.describe("granted by the kernel (Linux reports twice the size)"),
    socketSendBufferSize: bytes,
    bottleneckRateEstimate: kbps.nullable().describe("added: adaptive's bottleneck estimate"),
    bytesRecv: bytes.describe("added"),
    bytesSent: bytes.describe("added"),
    cipher: z.string().nullable().describe("added: negotiated cipher"),
    connectTime: ts.describe("added: when the current handshake completed"),
    creationTime: TimestampSchema.describe("added"),
    destinationAddress: z.string().describe("added"),
    destinationId: IdSchema.describe("added"),
    localPort: z.number().int().describe("added: requested local port"),
    lossPercentWindow: z.number().describe("added: lost ÷ data packets sent × 100 over the window"),
    numTransfersActive: z.number().int().describe("added"),
    owner: z.string().describe("added"),
    pacingRate: kbps.describe("added: the pacer's rate now, kbps"),
    packetsInvalid: z.number().int().describe("added"),
    packetsLost: z.number().int().describe("added"),
    packetsRecv: z.number().int().describe("added"),
    packetsRetransmitted: z.number().int().describe("added"),
    packetsSent: z.number().int().describe("added"),
    protocolVersion: z.number().int().nullable().describe("added"),
    receiverRateCap: kbps.nullable().describe("added"),
    roundTripTimeMinMs: z.number().nullable().describe("added"),
    roundTripTimeVarMs: z.number().nullable().describe("added"),
    sendRateWindowSeconds: z.number().int().describe("added"),
  }),
);
export type Connection = z.infer<typeof ConnectionSchema>;

export const DestinationSchema = structure(
  "Destination",
  "Where a sender sends: one receiver and its connection (api.md §5.6).",
  z.object({
    cipher: CipherSchema,
    connectionId: IdSchema,
    creationTime: TimestampSchema,
    destinationAddress: z.string(),
    destinationId: IdSchema,
    destinationIP: z.string().nullable(),
    destinationPort: z.number().int(),
    destinationPublicKey: PublicKeySchema.nullable(),
    encryptedConnectionState: connState,
    encryptionEnabled: z.boolean(),
    lastDestinationServerId: IdSchema.nullable(),
    lastDestinationServerUid: IdSchema.nullable(),
    lastError: z.string().nullable(),
    lastErrorMessage: z.string().nullable(),
    lastRecvTime: ts,
    lastSendTime: ts,
    localAddress: z.string().nullable(),
    localPort: z.number().int(),
    maxActiveTransfers: z.number().int(),
    numTransfersActive: z.number().int(),
    numTransfersQueued: z.number().int(),
    owner: z.string(),
    ownerToken: IdSchema.nullable(),
    ownerTokenSession: IdSchema.nullable(),
    rateControlMethod: RateControlSchema,
    rateControllerActive: z.boolean(),
    relayHost: z.string().nullable(),
    relayIP: z.string().nullable(),
    relayPort: z.number().int().nullable(),
    roundTripTimeMs: z.number().nullable(),
    sendRate: kbps,
    sendRateMax: kbps,
    sendRateMin: kbps,
    userData: UserDataSchema,
  }),
);
export type Destination = z.infer<typeof DestinationSchema>;

export const ManifestSchema = structure(
  "Manifest",
  "A list of files to send, scanned asynchronously (api.md §5.8).",
  z.object({
    completeTime: ts,
    creationTime: TimestampSchema,
    errorMessage: z.string(),
    expiryTime: ts,
    filesScanned: z.number().int(),
    manifestId: IdSchema,
    owner: z.string(),
    ownerToken: IdSchema.nullable(),
    ownerTokenSession: IdSchema.nullable(),
    processing: z.boolean(),
    referenced: z.boolean(),
    status: ManifestStatusSchema,
    totalEmptyDirs: z.number().int().nullable(),
    totalFiles: z.number().int().nullable(),
    totalSize: bytes.nullable(),
    userData: UserDataSchema,
  }),
);
export type Manifest = z.infer<typeof ManifestSchema>;

export const FileMappingSchema = structure(
  "FileMapping",
  "One entry of a manifest (api.md §5.9).",
  z.object({
    destPath: z.string(),
    fileSize: bytes,
    isEmptyDir: z.boolean(),
    mtime: TimestampSchema,
    srcPath: z.string(),
  }),
);

export const ManifestFilesSchema = structure(
  "ManifestFiles",
  "A page of a manifest's entries (api.md §5.9).",
  z.object({
    manifestId: IdSchema,
    offset: z.number().int(),
    totalCount: z.number().int(),
    fileMappings: z.array(FileMappingSchema),
  }),
);

export const TransferSchema = structure(
  "Transfer",
  "A manifest sent to a destination, sending side (api.md §5.10).",
  z.object({
    activeSeconds: z.number(),
    blockSize: bytes,
    blocksAcked: z.number().int(),
    blocksResumed: z.number().int(),
    blocksRetransmitted: z.number().int(),
    blocksSent: z.number().int(),
    bytesAcked: bytes,
    bytesRecv: bytes,
    bytesSent: bytes,
    checkpointFrequencySeconds: z.number().int().nullable(),
    connectionId: IdSchema,
    destinationId: IdSchema,
    destinationPath: z.string(),
    endTime: ts,
    errorCode: z.string().nullable(),
    errorMessage: z.string(),
    expiryTime: ts,
    filesComplete: z.number().int(),
    filesError: z.number().int(),
    filesSkipped: z.number().int(),
    goodputAverage: kbps,
    goodputAverageWindow: kbps,
    lastCheckpointTime: ts,
    manifestId: IdSchema,
    overwrite: OverwriteSchema,
    owner: z.string(),
    ownerToken: IdSchema.nullable(),
    ownerTokenSession: IdSchema.nullable(),
    packetsRecv: z.number().int(),
    packetsSent: z.number().int(),
    priority: z.number().int(),
    processing: z.boolean(),
    queueTime: ts,
    requestTime: TimestampSchema,
    sendRateAverage: kbps,
    sendRateAverageWindow: kbps,
    snapshotTime: ts,
    startTime: ts,
    status: TransferStatusSchema,
    totalBlocks: z.number().int(),
    totalBytes: bytes,
    totalFiles: z.number().int(),
    transferId: IdSchema,
    userData: UserDataSchema,
  }),
);
export type Transfer = z.infer<typeof TransferSchema>;

export const TransferFileSchema = structure(
  "TransferFile",
  "Per-file progress of a transfer (api.md §5.11).",
  z.object({
    bytesAcked: bytes,
    destPath: z.string(),
    endTime: ts,
    errorCode: z.string().nullable(),
    errorMessage: z.string(),
    fileSize: bytes,
    index: z.number().int(),
    isEmptyDir: z.boolean(),
    sha256: z.string().nullable(),
    srcPath: z.string(),
    startTime: ts,
    status: z.enum(["pending", "transferring", "complete", "skipped", "error"]),
  }),
);
export type TransferFile = z.infer<typeof TransferFileSchema>;
