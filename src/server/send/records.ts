/**
 * The sending side's persistent objects (api.md §3): what is stored, not the live figures.
 * Times are microseconds since the epoch, rates kbps.
 */
export type RateControl = "fixed" | "adaptive" | "fair" | "background";
export type DataCipher = "aes-256-gcm" | "chacha20-poly1305";
export type UserData = Record<string, string>;

export interface Ownership {
  owner: string;
  ownerToken: string | null;
  ownerTokenSession: string | null;
}

export interface DestinationSettings {
  destinationAddress: string;
  destinationPort: number;
  destinationPublicKey: string | null;
  cipher: DataCipher;
  rateControlMethod: RateControl;
  sendRate: number;
  sendRateMin: number;
  sendRateMax: number;
  relayHost: string | null;
  relayPort: number | null;
  localAddress: string | null;
  localPort: number;
  maxActiveTransfers: number;
}

export interface DestinationRecord extends DestinationSettings, Ownership {
  /** destinationPublicKey was learned in the first handshake (trust on first use) */
  keyLearned?: boolean;
  destinationId: string;
  connectionId: string;
  creationTime: number;
  userData: UserData;
}

export type ManifestStatus = "pending" | "complete" | "error";

export interface ManifestRecord extends Ownership {
  manifestId: string;
  creationTime: number;
  completeTime: number | null;
  status: ManifestStatus;
  errorMessage: string;
  filesScanned: number;
  totalFiles: number | null;
  totalEmptyDirs: number | null;
  totalSize: number | null;
  userData: UserData;
  /** the parsed file mappings, kept until the scan ends (a restart scans again) */
  sources?: { srcPath: string; destPath: string }[];
}

/** One manifest entry (api.md §5.9), plus where the sender reads it from. */
export interface ManifestEntry {
  /** source path in the owner's view, as reached (through followed links) */
  srcPath: string;
  /** absolute real path to read, with every symbolic link resolved */
  localPath: string;
  /** path on the receiver, relative to the transfer's destinationPath */
  destPath: string;
  fileSize: number;
  /** modification time, microseconds since the epoch */
  mtime: number;
  isEmptyDir: boolean;
}

export type TransferStatus =
  "pending" | "queued" | "transferring" | "suspended" | "complete" | "error" | "cancelled";
export const FINAL_STATUSES: readonly TransferStatus[] = ["complete", "error", "cancelled"];
export type Overwrite = "always" | "never" | "differs";

/** Counters that grow while a transfer runs; kept across suspend, resume and restarts. */
export interface TransferCounters {
  activeSeconds: number;
  blocksAcked: number;
  blocksResumed: number;
  blocksRetransmitted: number;
  blocksSent: number;
  bytesAcked: number;
  bytesRecv: number;
  bytesSent: number;
  packetsRecv: number;
  packetsSent: number;
  filesComplete: number;
  filesError: number;
  filesSkipped: number;
}

export interface TransferRecord extends Ownership, TransferCounters {
  transferId: string;
  manifestId: string;
  destinationId: string;
  connectionId: string;
  destinationPath: string;
  priority: number;
  checkpointFrequencySeconds: number | null;
  overwrite: Overwrite;
  userData: UserData;
  status: TransferStatus;
  errorCode: string | null;
  errorMessage: string;
  requestTime: number;
  queueTime: number | null;
  startTime: number | null;
  endTime: number | null;
  lastCheckpointTime: number | null;
  blockSize: number;
  totalBlocks: number;
  totalBytes: number;
  totalFiles: number;
  /** the receiving server's upload token: a secret, never returned by the API */
  receiveToken?: { token: string; password: string | null };
}

export type FileStatus = "pending" | "transferring" | "complete" | "skipped" | "error";

/** Outcome of one file of a transfer, stored when it is known. */
export interface FileOutcome {
  index: number;
  status: FileStatus;
  bytesAcked: number;
  sha256: string | null;
  errorCode: string | null;
  errorMessage: string;
  startTime: number | null;
  endTime: number | null;
}
