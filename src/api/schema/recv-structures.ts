import { z } from "zod";
import { IdSchema, structure, TimestampSchema } from "./define.js";
import { PublicKeySchema } from "./send-structures.js";

const ts = TimestampSchema.nullable();
const kbps = z.number().int().describe("kbps");
const bytes = z.number().int().min(0).describe("bytes");
const count = z.number().int().min(0);

export const RECV_TRANSFER_STATUSES = ["receiving", "suspended", "complete", "error", "cancelled"] as const;
export const RecvTransferStatusSchema = z.enum(RECV_TRANSFER_STATUSES);
export type RecvTransferStatus = z.infer<typeof RecvTransferStatusSchema>;

export const ReceiveTransferSchema = structure(
  "ReceiveTransfer",
  "One incoming transfer as this server receives it (api.md §5.12), from its 1 s snapshot. Kept while unfinished and recvTransferExpirySeconds after it ends.",
  z.object({
    aveRecvRate: kbps.describe("file data accepted × 8 ÷ 1,000 ÷ seconds receiving"),
    aveRecvRateWindow: kbps.describe("the same over the last rate window"),
    blocksDuplicate: count.describe("blocks received again that were already held"),
    blocksRecv: count.describe("distinct blocks accepted"),
    bytesRecv: bytes.describe("file bytes accepted (duplicates excluded)"),
    cipher: z.string().describe("aes-256-gcm, chacha20-poly1305, none"),
    destinationPath: z.string().describe("as sent by the sender"),
    encryptionEnabled: z.boolean(),
    endTime: ts,
    expiryTime: ts.describe("when the record will be dropped; null while unfinished"),
    filesComplete: count.describe("files renamed into place after verification"),
    lastCheckpointTime: ts,
    lastError: z.string().nullable().describe("code of the last interruption or failure (§6.5)"),
    lastErrorMessage: z.string().nullable(),
    lastErrorTime: ts.describe("time of the last interruption; status tells whether it recovered"),
    lastRecvTime: ts.describe("last DATA datagram from the sender for this transfer"),
    lastSendTime: ts.describe("last datagram sent on the session carrying it"),
    packetsRecv: count.describe("DATA datagrams for this transfer"),
    packetsSent: count.describe("datagrams sent on its sessions while they carried it"),
    receivingUser: z.string().describe("user whose sandbox the files are written in (anonymous if none)"),
    rootPath: z
      .string()
      .describe("absolute local directory: sandbox root (+ the receiveToken's path) + destinationPath"),
    snapshotTime: TimestampSchema,
    sourceIP: z.string().describe("sender's address"),
    sourcePort: z.number().int().describe("sender's UDP port"),
    sourcePublicKey: PublicKeySchema.nullable().describe("sender's key (null when unencrypted)"),
    sourceServerId: IdSchema.nullable().describe("sender instance"),
    sourceServerUid: IdSchema.nullable().describe("sender persistent id"),
    startTime: TimestampSchema,
    status: RecvTransferStatusSchema,
    totalFiles: count,
    totalSize: bytes,
    transferId: IdSchema.describe("same id as on the sender"),
  }),
);
export type ReceiveTransfer = z.infer<typeof ReceiveTransferSchema>;

export const SourceSchema = structure(
  "Source",
  "One sending server (by serverUid) that opened a session since start or still has a receive record (api.md §5.13).",
  z.object({
    activeTransferCount: count.describe("records in receiving"),
    authorized: z.boolean().describe("its key is in the allow-list"),
    aveRecvRate: kbps.describe("file data × 8 ÷ 1,000 ÷ seconds with one of its transfers receiving"),
    aveRecvRateWindow: kbps.describe("the same over the last rate window"),
    bytesRecv: bytes.describe("UDP payload bytes from this source"),
    cancelledTransferCount: count,
    completeTransferCount: count,
    encryptedConnectionState: z.enum(["disconnected", "negotiating", "connected"]),
    encryptionEnabled: z.boolean().describe("its most recent session is encrypted"),
    errorTransferCount: count,
    firstSeenTime: TimestampSchema,
    inactiveTransferCount: count.describe("suspended, or receiving with no packet for --peer-timeout"),
    lastRecvTime: ts,
    lastSendTime: ts,
    packetsInvalid: count.describe("datagrams from it dropped as invalid"),
    packetsRecv: count,
    snapshotTime: TimestampSchema,
    sourceIP: z.string().describe("address of its most recent session"),
    sourcePort: z.number().int(),
    sourcePublicKey: PublicKeySchema.nullable(),
    sourceServerId: IdSchema.nullable().describe("its current instance id"),
    sourceServerUid: IdSchema,
  }),
);
export type Source = z.infer<typeof SourceSchema>;

export const AuthorizedClientSchema = structure(
  "AuthorizedClient",
  "A sender's public key in the allow-list, optionally bound to the user its transfers are written as (api.md §5.14).",
  z.object({
    addedBy: z.string().describe("user who added it"),
    clientPublicKey: PublicKeySchema,
    creationTime: TimestampSchema,
    description: z.string(),
    lastSeenTime: ts.describe("last session from this key"),
    user: z.string().nullable().describe("receiving user for its transfers; null = anonymous"),
  }),
);
export type AuthorizedClient = z.infer<typeof AuthorizedClientSchema>;
