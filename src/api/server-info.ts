import { formatPublicKey } from "../io/keys.js";
import { DEFAULT_GC_SETTINGS, garbageCollectorOf } from "../server/gc/index.js";
import { BANDWIDTH_OPTION_KEYS } from "../server/options/definitions.js";
import { OPTION_DEFINITIONS } from "../server/options/table.js";
import type { ServerState } from "../server/server-state.js";
import { API_VERSION, MIN_API_VERSION, REVISION, VERSION } from "../server/version.js";
import type { SessionRecord } from "./auth/sessions.js";
import type {
  BandwidthLimits,
  GarbageCollectSettings,
  ReceiverInfo,
  ServerInfo,
} from "./schema/structures.js";

/**
 * The parts of ServerInfo the transfer engine knows. The defaults describe a server without its
 * engine extensions: no receive ports, no public key. Extensions replace them through
 * `ServerHandle.setEngineInfo` (the receive service supplies the ports; the key comes with
 * encryption).
 */
export interface EngineInfoProvider {
  /** X25519 public key, base64url; null until the key pair exists (encryption issue) */
  publicKey(): string | null;
  /** `activeTransferCount` must be null when `authenticated` is false */
  receiver(authenticated: boolean): ReceiverInfo;
  bandwidthLimits(): BandwidthLimits;
  garbageCollectSettings(): GarbageCollectSettings;
}

/** The settings of a server whose GC settings were never changed, before its first pass. */
export const DEFAULT_GARBAGE_COLLECT_SETTINGS: GarbageCollectSettings = {
  ...DEFAULT_GC_SETTINGS,
  lastRunTime: null,
  nextRunTime: null,
};

export function defaultEngineInfo(state: ServerState): EngineInfoProvider {
  const { options, config } = state;
  return {
    publicKey: () => formatPublicKey(state.serverKey.publicKey),
    receiver: (authenticated) => ({
      activeTransferCount: authenticated ? 0 : null,
      allowAnonymous: options.recvAllowAnonymous,
      maxIncomingTransfers: options.maxIncomingTransfers,
      onlyAuthorizedClientsAllowed: options.recvOnlyAuthorizedClients ?? false,
      recvPorts: [], // server/engine/receive-service.ts supplies the bound ports when it runs
    }),
    bandwidthLimits: () => ({
      borrowIncomingRate: options.borrowIncomingRate,
      borrowOutgoingRate: options.borrowOutgoingRate,
      effectiveIncomingLimit: options.incomingRateLimit,
      effectiveOutgoingLimit: options.outgoingRateLimit,
      fixed: BANDWIDTH_OPTION_KEYS.some((key) => config.sources[key] !== "default"),
      incomingRate: 0,
      incomingRateLimit: options.incomingRateLimit,
      outgoingRate: 0,
      outgoingRateLimit: options.outgoingRateLimit,
    }),
    garbageCollectSettings: () => garbageCollectorOf(state).settings(),
  };
}

/** Builds ServerInfo (api.md §5.3) for a caller: public subset, full, or full with configuration. */
export class ServerInfoBuilder {
  engine: EngineInfoProvider;

  constructor(
    private readonly state: ServerState,
    private readonly apiAddress: () => { host: string; port: number },
  ) {
    this.engine = defaultEngineInfo(state);
  }

  build(session: SessionRecord | null): ServerInfo {
    const { state } = this;
    const { options } = state;
    const info: ServerInfo = {
      apiTokensAvailable: !options.apiDisableApiTokens,
      apiVersion: API_VERSION,
      authRequired: true,
      certificateFingerprint: state.tls.fingerprint,
      encryptionAvailable: true,
      externalAddress: options.externalAddress,
      minApiVersion: MIN_API_VERSION,
      minCipher: options.minCipher,
      publicKey: this.engine.publicKey(),
      receiver: this.engine.receiver(session !== null),
      serverId: state.serverId,
      serverName: options.serverName,
      serverUid: state.serverUid,
      sharedTokensAvailable: !options.apiDisableSharedTokens,
      version: VERSION,
    };
    if (session === null) return info;
    const address = this.apiAddress();
    Object.assign(info, {
      allowRemoteControl: options.apiAllowRemoteControl,
      apiHost: address.host,
      apiPort: address.port,
      bandwidthLimits: this.engine.bandwidthLimits(),
      certificateExpiryTime: state.tls.expiryTime,
      eventLogAvailable: state.events.eventLogAvailable,
      hostName: state.hostName,
      nodeVersion: process.version,
      platform: process.platform,
      revision: REVISION,
      sandboxed: session.path !== null || state.sandbox.mappingFor(session.user) !== null,
      startTime: state.startTime,
    });
    if (session.superuser) info.configuration = this.configuration();
    return info;
  }

  /**
   * `host:port` naming this server's API in links (api.md §5.15): `--external-address` (with the
   * API port when it names none), else the bound API address, the host name for a wildcard bind.
   */
  linkAddress(): string {
    const { port, host } = this.apiAddress();
    const bracket = (name: string) => (name.includes(":") ? `[${name}]` : name);
    const external = this.state.options.externalAddress;
    if (external !== null && external !== "") {
      const hasPort = external.startsWith("[") ? external.includes("]:") : external.split(":").length === 2;
      return hasPort ? external : `${bracket(external)}:${port}`;
    }
    const name = host === "::" || host === "0.0.0.0" ? this.state.hostName : host;
    return `${bracket(name)}:${port}`;
  }

  /** ServerConfiguration (api.md §5.5): every option's effective value, where it came from, GC settings. */
  configuration(): Record<string, unknown> {
    const { options, config } = this.state;
    const values: Record<string, unknown> = {};
    for (const key of Object.keys(OPTION_DEFINITIONS) as (keyof typeof options)[]) values[key] = options[key];
    values.stateDir = this.state.stateDir.path;
    values.apiPort = this.apiAddress().port;
    return {
      ...values,
      configFile: config.configFile,
      sources: { ...config.sources },
      garbageCollect: this.engine.garbageCollectSettings(),
    };
  }
}
