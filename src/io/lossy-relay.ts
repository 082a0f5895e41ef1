import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import { LinkEmulator, type LinkCounters, type LinkOptions } from "./link-emulator.js";
import { seededRandom } from "../core/util/random.js";
import { UdpSocket, type UdpEndpoint } from "./udp-socket.js";

export type { LinkCounters, LinkOptions } from "./link-emulator.js";

export interface LossyRelayOptions {
  listen: { host: string; port: number };
  target: { host: string; port: number };
  /** client → target */
  forward: LinkOptions;
  /** target → client */
  backward: LinkOptions;
  /** seed for loss, jitter and reordering; random when absent (read it back from `seed`) */
  seed?: number;
  /** SO_RCVBUF/SO_SNDBUF requested for every relay socket; default 4 MiB */
  socketBufferSize?: number;
  /** a client silent for this long loses its upstream socket; default 60 s */
  idleTimeoutMs?: number;
}

export interface LossyRelayCounters {
  forward: LinkCounters;
  backward: LinkCounters;
  /** clients that currently have an upstream socket */
  clients: number;
}

/** One client address and the upstream socket that speaks for it to the target. */
interface Route {
  key: string;
  client: UdpEndpoint;
  upstream: UdpSocket | null;
  /** forward datagrams released before the upstream socket finished opening */
  waiting: Buffer[];
  lastActive: number;
}

/**
 * A UDP relay that emulates a lossy WAN link between clients and one target, without root. Each
 * client address gets its own upstream socket, so the target's replies return to the right client.
 */
export class LossyRelay {
  readonly forward: LinkEmulator<Route>;
  readonly backward: LinkEmulator<Route>;
  private readonly routes = new Map<string, Route>();
  private readonly idleTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly listener: UdpSocket,
    private readonly options: LossyRelayOptions,
    readonly seed: number,
  ) {
    // one generator per direction, so the loss pattern of one does not depend on traffic in the other
    this.forward = new LinkEmulator(options.forward, seededRandom(seed), (route, data) =>
      this.toTarget(route, data),
    );
    this.backward = new LinkEmulator(options.backward, seededRandom(seed ^ 0x5bd1e995), (route, data) =>
      this.listener.send(data, route.client),
    );
    listener.onDatagram((data, from) => this.fromClient(data, from));
    const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.idleTimer = setInterval(() => this.closeIdle(idleTimeoutMs), Math.max(10, idleTimeoutMs / 2));
    this.idleTimer.unref();
  }

  static async start(options: LossyRelayOptions): Promise<LossyRelay> {
    const bufferSize = options.socketBufferSize ?? 4 * 1024 * 1024;
    const listener = await UdpSocket.open({
      host: options.listen.host,
      port: options.listen.port,
      recvBufferSize: bufferSize,
      sendBufferSize: bufferSize,
    });
    return new LossyRelay(listener, options, options.seed ?? randomInt(2 ** 31));
  }

  /** The address clients send to. */
  get address(): UdpEndpoint {
    return this.listener.localAddress;
  }

  /** Warnings from the sockets (e.g. buffers capped by the OS). */
  get warnings(): string[] {
    return this.listener.warnings;
  }

  get counters(): LossyRelayCounters {
    return {
      forward: { ...this.forward.counters },
      backward: { ...this.backward.counters },
      clients: this.routes.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    this.forward.close();
    this.backward.close();
    const sockets = [...this.routes.values()].map((route) => route.upstream?.close());
    this.routes.clear();
    await Promise.all([...sockets, this.listener.close()]);
  }

  private fromClient(data: Buffer, from: UdpEndpoint): void {
    const key = `${from.address}|${from.port}`;
    let route = this.routes.get(key);
    if (!route) {
      route = {
        key,
        client: { address: from.address, port: from.port },
        upstream: null,
        waiting: [],
        lastActive: 0,
      };
      this.routes.set(key, route);
      void this.openUpstream(route);
    }
    route.lastActive = performance.now();
    this.forward.submit(data, route);
  }

  private toTarget(route: Route, data: Buffer): void {
    if (route.upstream) route.upstream.send(data);
    else if (this.routes.get(route.key) === route) route.waiting.push(data);
  }

  private async openUpstream(route: Route): Promise<void> {
    const { target } = this.options;
    const bufferSize = this.options.socketBufferSize ?? 4 * 1024 * 1024;
    const targetIsV6 = isIP(target.host) === 6;
    const loopback = target.host === "127.0.0.1" || target.host === "::1" || target.host === "localhost";
    const host = loopback ? (targetIsV6 ? "::1" : "127.0.0.1") : targetIsV6 ? "::" : "0.0.0.0";
    let upstream: UdpSocket;
    try {
      upstream = await UdpSocket.open({
        host,
        port: 0,
        connectTo: target,
        recvBufferSize: bufferSize,
        sendBufferSize: bufferSize,
      });
    } catch {
      this.routes.delete(route.key);
      return;
    }
    if (this.closed || this.routes.get(route.key) !== route) {
      await upstream.close();
      return;
    }
    route.upstream = upstream;
    upstream.onDatagram((data) => {
      route.lastActive = performance.now();
      this.backward.submit(data, route);
    });
    for (const data of route.waiting) upstream.send(data);
    route.waiting = [];
  }

  private closeIdle(idleTimeoutMs: number): void {
    const cutoff = performance.now() - idleTimeoutMs;
    for (const route of this.routes.values()) {
      if (route.upstream && route.lastActive < cutoff) {
        this.routes.delete(route.key);
        void route.upstream.close();
      }
    }
  }
}

/** Options of `slipstream lossy-relay`, already parsed from the command line. */
export interface RunLossyRelayOptions {
  /** "host:port" or "[v6]:port" */
  listen: string;
  target: string;
  /** round-trip time added by the relay (half each way) */
  rttMs: number;
  /** extra one-way delay up to this, each direction */
  jitterMs?: number;
  /** random loss in percent, each direction */
  lossPct?: number;
  /** bottleneck in Mbit/s (1e6 bit/s), each direction; 0/absent = unlimited */
  rateMbit?: number;
  /** bottleneck queue in KiB; default 100 ms at the rate */
  queueKiB?: number;
  /** reordering probability in percent, each direction */
  reorderPct?: number;
  seed?: number;
  /** how often to log counters; 0 = never; default 5000 */
  statsIntervalMs?: number;
  log?: (line: string) => void;
  /** the relay runs until this aborts (e.g. on SIGINT) */
  signal?: AbortSignal;
}

/** Runs a LossyRelay until `signal` aborts; resolves with the final counters. */
export async function runLossyRelay(options: RunLossyRelayOptions): Promise<LossyRelayCounters> {
  const log = options.log ?? ((line: string) => console.log(line));
  const link: LinkOptions = {
    delayMs: options.rttMs / 2,
    jitterMs: options.jitterMs ?? 0,
    lossRate: (options.lossPct ?? 0) / 100,
    rateBitsPerSecond: (options.rateMbit ?? 0) * 1e6,
    queueBytes: options.queueKiB !== undefined ? options.queueKiB * 1024 : undefined,
    reorderRate: (options.reorderPct ?? 0) / 100,
  };
  const relay = await LossyRelay.start({
    listen: parseEndpoint(options.listen),
    target: parseEndpoint(options.target),
    forward: link,
    backward: { ...link },
    seed: options.seed,
  });
  const { address, port } = relay.address;
  log(
    `lossy-relay listening on ${address}:${port} → ${options.target}: rtt ${options.rttMs} ms, ` +
      `loss ${options.lossPct ?? 0} %, rate ${options.rateMbit ? `${options.rateMbit} Mbit/s` : "unlimited"}, ` +
      `jitter ${options.jitterMs ?? 0} ms, reorder ${options.reorderPct ?? 0} %, seed ${relay.seed}`,
  );
  for (const warning of relay.warnings) log(`warning: ${warning}`);
  const statsIntervalMs = options.statsIntervalMs ?? 5000;
  const statsTimer =
    statsIntervalMs > 0 ? setInterval(() => log(formatCounters(relay.counters)), statsIntervalMs) : null;
  await new Promise<void>((resolve) => {
    if (!options.signal) return; // runs until the process ends
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  if (statsTimer) clearInterval(statsTimer);
  const counters = relay.counters;
  await relay.close();
  log(formatCounters(counters));
  return counters;
}

export function formatCounters(counters: LossyRelayCounters): string {
  const side = (name: string, c: LinkCounters): string =>
    `${name} in ${c.datagramsIn} out ${c.delivered} lost ${c.lost} queue-drop ${c.queueDrops} ` +
    `reordered ${c.reordered} in-flight ${c.inFlight}`;
  return `${side("forward", counters.forward)} | ${side("backward", counters.backward)} | clients ${counters.clients}`;
}

/** Parses "host:port", "[::1]:port" or ":port" (all interfaces, IPv4). */
export function parseEndpoint(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid address "${text}": expected host:port`);
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}
