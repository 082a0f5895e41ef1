/**
 * The receiving side's records: the ReceiveTransfer structure (api.md §5.12) as the server keeps it,
 * what is persisted of it, and the allow-list entry (§5.14). Times are epoch microseconds.
 */

export const ANONYMOUS_USER = "anonymous";

export type RecvStatus = "receiving" | "suspended" | "complete" | "error" | "cancelled";

export const FINAL_RECV_STATUSES: readonly RecvStatus[] = ["complete", "error", "cancelled"];

export interface ReceiveTransferView {
  aveRecvRate: number;
  aveRecvRateWindow: number;
  blocksDuplicate: number;
  blocksRecv: number;
  bytesRecv: number;
  cipher: string;
  destinationPath: string;
  encryptionEnabled: boolean;
  endTime: number | null;
  expiryTime: number | null;
  filesComplete: number;
  lastCheckpointTime: number | null;
  lastError: string | null;
  lastErrorMessage: string | null;
  lastErrorTime: number | null;
  lastRecvTime: number | null;
  lastSendTime: number | null;
  packetsRecv: number;
  packetsSent: number;
  receivingUser: string;
  rootPath: string;
  snapshotTime: number;
  sourceIP: string;
  sourcePort: number;
  sourcePublicKey: string | null;
  sourceServerId: string | null;
  sourceServerUid: string | null;
  startTime: number;
  status: RecvStatus;
  totalFiles: number;
  totalSize: number;
  transferId: string;
}

/** What is stored per receive record: the latest view plus what the rates are computed from. */
export interface ReceiveRecordDoc {
  view: ReceiveTransferView;
  /** seconds the transfer had a live session (the denominator of aveRecvRate) */
  activeSeconds: number;
  /** the sandbox root the files are written under (rootPath without destinationPath) */
  sandboxRoot: string;
  /** recv.transferStarted was emitted */
  started: boolean;
}

export interface AuthorizedClientRecord {
  addedBy: string;
  clientPublicKey: string;
  creationTime: number;
  description: string;
  lastSeenTime: number | null;
  user: string | null;
}

/** The owner of a receiving-side event or snapshot: the receiving user, null (superusers) for anonymous. */
export function ownerOf(receivingUser: string): string | null {
  return receivingUser === ANONYMOUS_USER ? null : receivingUser;
}

/** Splits the endpoint's `ip:port` / `[v6]:port` peer key. */
export function splitAddress(from: string): { ip: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(from) ?? /^(.*):(\d+)$/.exec(from);
  return m ? { ip: m[1]!, port: Number(m[2]) } : { ip: from, port: 0 };
}

/** The leading §6.4/§6.5 code of a message like `TIMEOUT: no reply`, if it has one. */
export function leadingCode(message: string): string | null {
  return /^([A-Z][A-Z_]+)(?::|\b)/.exec(message)?.[1] ?? null;
}
