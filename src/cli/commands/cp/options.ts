import { connectLocalServer, type LocalServer } from "../../local-server.js";

/** `--relay`: the sender-side relay (host "" = send directly); port null = the default 8887. */
export interface RelayChoice {
  host: string;
  port: number | null;
}

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
  relay?: RelayChoice;
  /** false with --no-encryption */
  encryption: boolean;
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

/** The local server cp drives (uploads) or receives with (downloads), or an embedded one. */
export function connectCpLocalServer(o: CpOptions): Promise<LocalServer> {
  return connectLocalServer(
    {
      host: o.host,
      apiPort: o.apiPort,
      stateDir: o.stateDir,
      user: o.user,
      embedded: o.embedded,
      recvPort: o.recvPort,
      unencrypted: !o.encryption,
    },
    "cp",
  );
}
