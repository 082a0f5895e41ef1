/**
 * The live side of one destination: resolves its address, owns the UdpSender (the connection's
 * socket and session) and the ConnectionMonitor that snapshots it once per second. DNS and bind
 * failures become `lastError` and are retried with backoff 1 s → 60 s; the address is checked
 * again every 300 s and a changed answer reconnects. Settings that change the association (address,
 * port, key, cipher, relay, local binding) reopen it; running transfers are handed back to the
 * owner through `onReplaced` so they continue from what the receiver acknowledged.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { CipherName } from "../../core/crypto/ciphers.js";
import { decodePublicKey, type StaticKeyPair } from "../../core/crypto/keys.js";
import { senderStats } from "../../core/endpoint/stats.js";
import type { LocalIdentity } from "../../core/transport/handshake.js";
import { kbpsToBytesPerSecond } from "../../core/time.js";
import type { SenderEvent } from "../../core/endpoint/sender.js";
import { UdpSender } from "../../io/drivers/udp-sender.js";
import type { RelayLink } from "../../io/relay/relay-link.js";
import type { RelayedTransport } from "../../io/relay/relayed-transport.js";
import {
  ConnectionMonitor,
  type ConnectionStructure,
  type TransferCounts,
} from "../engine/connection-monitor.js";
import type { RelayPool } from "./relay-pool.js";
import type { DestinationRecord } from "./records.js";

export interface LinkConfig {
  datagramSize: number;
  /** seconds */
  keepaliveInterval: number;
  peerTimeout: number;
  stallTimeout: number;
  recvBufferSize: number;
  sendBufferSize: number;
  rateWindowSeconds: number;
  identity: LocalIdentity;
  /** this server's key pair and cipher floor; null = unencrypted sessions (both ciphers `none`) */
  security: { keyPair: StaticKeyPair; minCipher: CipherName } | null;
  /** the links to sender-side relays */
  relays: RelayPool;
}

export interface LinkHooks {
  counts(): TransferCounts;
  onSnapshot(c: ConnectionStructure): void;
  onEvent(e: SenderEvent): void;
  /** the sender was replaced (or opened for the first time): start the running transfers on it */
  onReplaced(sender: UdpSender): void;
  /** the first handshake of a destination without a key learned the receiver's key: pin it */
  onKeyLearned(publicKey: string): void;
}

const RECHECK_ADDRESS_MS = 300_000;

export class ConnectionLink {
  private sender: UdpSender | null = null;
  private relay: RelayLink | null = null;
  private ip: string | null = null;
  private linkError: { code: string; message: string } | null = null;
  private retryMs = 1000;
  private retryTimer: NodeJS.Timeout | null = null;
  private recheckTimer: NodeJS.Timeout | null = null;
  private generation = 0;
  private closed = false;
  readonly monitor: ConnectionMonitor;

  constructor(
    private readonly destination: () => DestinationRecord,
    private readonly config: LinkConfig,
    private readonly hooks: LinkHooks,
  ) {
    this.monitor = new ConnectionMonitor(
      () => this.sender,
      () => {
        const d = this.destination();
        return {
          ...d,
          destinationIP: this.ip ?? "",
          relayIP: this.relay?.relayAddress?.address ?? null,
          relayPort: d.relayHost === null ? null : d.relayPort,
          linkError: this.linkError,
        };
      },
      () => this.hooks.counts(),
      config.rateWindowSeconds,
    );
    this.monitor.start((c) => this.hooks.onSnapshot(c));
    void this.open();
    this.recheckTimer = setInterval(() => void this.recheckAddress(), RECHECK_ADDRESS_MS);
    this.recheckTimer.unref();
  }

  /** The open sender, or null while the address is unresolved or the socket cannot bind. */
  get current(): UdpSender | null {
    return this.sender;
  }

  get destinationIP(): string | null {
    return this.ip;
  }

  /** Rate settings take effect at once on the running session and on later ones. */
  applyRates(d: DestinationRecord): void {
    this.sender?.endpoint.reconfigure({
      rateControlMethod: d.rateControlMethod,
      sendRate: kbpsToBytesPerSecond(d.sendRate),
      minRate: kbpsToBytesPerSecond(d.sendRateMin),
      maxRate: kbpsToBytesPerSecond(d.sendRateMax),
    });
  }

  /** Closes the association and opens a new one with the destination's current settings. */
  reopen(): void {
    void this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.monitor.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    const sender = this.sender;
    this.sender = null;
    await sender?.close();
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const old = this.sender;
    this.sender = null;
    await old?.close();
    const d = this.destination();
    let ip: string;
    try {
      ip = await resolve(d.destinationAddress);
    } catch (error) {
      if (generation === this.generation)
        this.fail("DNS", `cannot resolve ${d.destinationAddress}: ${describe(error)}`);
      return;
    }
    if (generation !== this.generation || this.closed) return;
    this.ip = ip;
    let transport: RelayedTransport | undefined;
    this.relay = null;
    if (d.relayHost !== null) {
      const relayPort = d.relayPort ?? 8887;
      if (!this.config.security) {
        this.fail(
          "ENCRYPTION_REQUIRED",
          `relays only carry encrypted sessions; this server runs with --cipher none`,
        );
        return;
      }
      try {
        this.relay = this.config.relays.get(d.relayHost, relayPort);
        // a refusal (NOT_AUTHORIZED, KEY_MISMATCH) or an unreachable relay rejects here
        await this.relay.waitConnected(10_000);
        transport = await this.relay.openChannel(ip, d.destinationPort);
      } catch (error) {
        if (generation === this.generation) {
          this.fail("RELAY_UNAVAILABLE", `relay ${d.relayHost}:${relayPort}: ${describe(error)}`);
        }
        return;
      }
      if (generation !== this.generation || this.closed) {
        await transport.close();
        return;
      }
    }
    let sender: UdpSender;
    try {
      sender = await UdpSender.open({
        ...(transport ? { transport } : {}),
        host: ip,
        port: d.destinationPort,
        local: { host: d.localAddress ?? (isIP(ip) === 6 ? "::" : "0.0.0.0"), port: d.localPort },
        recvBufferSize: this.config.recvBufferSize,
        sendBufferSize: this.config.sendBufferSize,
        stallTimeout: this.config.stallTimeout * 1e6,
        identity: this.config.identity,
        ...(this.config.security
          ? {
              security: {
                keyPair: this.config.security.keyPair,
                minCipher: this.config.security.minCipher,
                cipher: d.cipher,
                peerPublicKey: d.destinationPublicKey ? decodePublicKey(d.destinationPublicKey) : null,
              },
            }
          : {}),
        config: {
          datagramSize: this.config.datagramSize,
          keepaliveInterval: this.config.keepaliveInterval * 1e6,
          peerTimeout: this.config.peerTimeout * 1e6,
          rateControlMethod: d.rateControlMethod,
          sendRate: kbpsToBytesPerSecond(d.sendRate),
          minRate: kbpsToBytesPerSecond(d.sendRateMin),
          maxRate: kbpsToBytesPerSecond(d.sendRateMax),
        },
      });
    } catch (error) {
      if (generation === this.generation) {
        const where = `${d.localAddress ?? "*"}:${d.localPort}`;
        this.fail("SOCKET", `cannot open a UDP socket on ${where}: ${describe(error)}`);
      }
      return;
    }
    if (generation !== this.generation || this.closed) {
      await sender.close();
      return;
    }
    this.linkError = null;
    this.retryMs = 1000;
    this.sender = sender;
    sender.subscribe((e) => {
      if (e.type === "connected") {
        const stats = senderStats(sender.endpoint);
        if (stats.peerKeyLearned && stats.peerPublicKey) this.hooks.onKeyLearned(stats.peerPublicKey);
      }
      this.hooks.onEvent(e);
    });
    sender.connect();
    this.hooks.onReplaced(sender);
  }

  private fail(code: string, message: string): void {
    this.linkError = { code, message };
    if (this.closed) return;
    this.retryTimer = setTimeout(() => void this.open(), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 60_000);
  }

  private async recheckAddress(): Promise<void> {
    if (this.closed || this.sender === null) return;
    const d = this.destination();
    try {
      const ip = await resolve(d.destinationAddress);
      if (ip !== this.ip && !this.closed) void this.open();
    } catch {
      // keep the current association; the next check or reconnect reports DNS
    }
  }
}

async function resolve(address: string): Promise<string> {
  if (isIP(address)) return address;
  return (await lookup(address)).address;
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
