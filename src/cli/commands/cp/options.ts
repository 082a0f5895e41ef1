/** The options of `slipstream cp` (server.md §5), as commander hands them over. */
export interface CpOptions {
  recursive?: boolean;
  host: string;
  apiPort?: number;
  stateDir?: string;
  user?: string;
  port: number;
  rateControl?: string;
  rate?: number;
  rateMin?: number;
  rateMax?: number;
  priority: number;
  checkpoint?: number;
  overwrite: string;
  embedded: boolean;
  recvPort: number;
  detach?: boolean;
  quiet?: boolean;
  json?: boolean;
  remoteApiPort: number;
  /** API port of hostB in a `hostA:path → hostB:path` copy (default: remoteApiPort) */
  targetApiPort?: number;
  remoteToken?: string;
  publicKey?: string;
  fingerprint?: string;
}
