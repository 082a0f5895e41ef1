import type { Micros } from "../core/time.js";
import type { EventLoop } from "./event-loop.js";
import { Link, LinkPacket, type DropReason, type LinkConfig } from "./link.js";
import type { Random } from "../core/util/random.js";

/** An endpoint on the simulated network. It owns every datagram it receives. */
export interface SimNode {
  readonly address: string;
  receive(now: Micros, datagram: Uint8Array, from: string): void;
}

export interface NetworkCounters {
  sent: number;
  delivered: number;
  /** no route between the sender's and the destination's host */
  droppedNoRoute: number;
  /** the route exists but no node is attached at the destination address when the datagram arrives */
  droppedUnknownDestination: number;
}

export type TraceEvent =
  | { kind: "send"; at: Micros; from: string; to: string; bytes: number }
  | { kind: "deliver"; at: Micros; from: string; to: string; bytes: number }
  | {
      kind: "drop";
      at: Micros;
      from: string;
      to: string;
      bytes: number;
      reason: DropReason | "noRoute" | "unknownDestination";
    };

interface Route {
  link: Link;
  extraDelay: Micros;
}

/** "10.0.0.1:5000" → "10.0.0.1", "[::1]:5000" → "[::1]"; an address without a port is its own host */
export function hostOf(address: string): string {
  const colon = address.lastIndexOf(":");
  if (colon < 0 || (address.startsWith("[") && address[colon - 1] !== "]")) return address;
  return address.slice(0, colon);
}

/**
 * Endpoints addressed "host:port", joined by one-directional links. A route says which link carries
 * datagrams from one host to another; all ports of a host share its routes.
 */
export class Network {
  readonly counters: NetworkCounters = {
    sent: 0,
    delivered: 0,
    droppedNoRoute: 0,
    droppedUnknownDestination: 0,
  };
  /** set to observe every send, delivery and drop (costs an allocation per event while set) */
  trace: ((event: TraceEvent) => void) | null = null;

  private readonly nodes = new Map<string, SimNode>();
  private readonly routes = new Map<string, Map<string, Route>>();
  /** per (from address, to address) route resolution, so send() does not parse addresses */
  private readonly routeCache = new Map<string, Map<string, Route | null>>();
  private readonly links: Link[] = [];

  constructor(
    readonly loop: EventLoop,
    private readonly rng: Random,
  ) {}

  get now(): Micros {
    return this.loop.now;
  }

  attach(node: SimNode): void {
    if (this.nodes.has(node.address)) throw new Error(`address ${node.address} is already attached`);
    this.nodes.set(node.address, node);
  }

  detach(address: string): void {
    this.nodes.delete(address);
  }

  node(address: string): SimNode | undefined {
    return this.nodes.get(address);
  }

  /** a new link with its own random stream (derived from the network seed and `name`) */
  createLink(name: string, config: LinkConfig): Link {
    if (this.links.some((link) => link.name === name)) throw new Error(`link ${name} already exists`);
    const link = new Link(this.loop, this.rng.fork(`link:${name}`), config, name);
    link.onDeliver = this.deliver;
    link.onDrop = this.onLinkDrop;
    this.links.push(link);
    return link;
  }

  allLinks(): readonly Link[] {
    return this.links;
  }

  /** datagrams from `fromHost` to `toHost` cross `link`, then wait `extraDelay` more */
  addRoute(fromHost: string, toHost: string, link: Link, extraDelay: Micros = 0): void {
    let byDestination = this.routes.get(fromHost);
    if (byDestination === undefined) this.routes.set(fromHost, (byDestination = new Map()));
    byDestination.set(toHost, { link, extraDelay });
    this.routeCache.clear();
  }

  /** a point-to-point path: a link each way (the reverse copies the forward config unless given) */
  connect(hostA: string, hostB: string, forward: LinkConfig, reverse: LinkConfig = forward): Path {
    const forwardLink = this.createLink(`${hostA}>${hostB}`, forward);
    const reverseLink = this.createLink(`${hostB}>${hostA}`, reverse);
    this.addRoute(hostA, hostB, forwardLink);
    this.addRoute(hostB, hostA, reverseLink);
    return { forward: forwardLink, reverse: reverseLink };
  }

  /** send a datagram; the network owns it from now on */
  send(from: string, to: string, datagram: Uint8Array): void {
    this.counters.sent++;
    const route = this.resolve(from, to);
    if (this.trace !== null) {
      this.trace({ kind: "send", at: this.loop.now, from, to, bytes: datagram.byteLength });
    }
    if (route === null) {
      this.counters.droppedNoRoute++;
      this.traceDrop(from, to, datagram.byteLength, "noRoute");
      return;
    }
    route.link.send(new LinkPacket(datagram, from, to, route.extraDelay));
  }

  private resolve(from: string, to: string): Route | null {
    let byDestination = this.routeCache.get(from);
    if (byDestination === undefined) this.routeCache.set(from, (byDestination = new Map()));
    let route = byDestination.get(to);
    if (route === undefined) {
      route = this.routes.get(hostOf(from))?.get(hostOf(to)) ?? null;
      byDestination.set(to, route);
    }
    return route;
  }

  private readonly deliver = (packet: LinkPacket): void => {
    const node = this.nodes.get(packet.to);
    if (node === undefined) {
      this.counters.droppedUnknownDestination++;
      this.traceDrop(packet.from, packet.to, packet.data.byteLength, "unknownDestination");
      return;
    }
    this.counters.delivered++;
    if (this.trace !== null) {
      const bytes = packet.data.byteLength;
      this.trace({ kind: "deliver", at: this.loop.now, from: packet.from, to: packet.to, bytes });
    }
    node.receive(this.loop.now, packet.data, packet.from);
  };

  private readonly onLinkDrop = (packet: LinkPacket, reason: DropReason): void => {
    this.traceDrop(packet.from, packet.to, packet.data.byteLength, reason);
  };

  private traceDrop(
    from: string,
    to: string,
    bytes: number,
    reason: DropReason | "noRoute" | "unknownDestination",
  ): void {
    if (this.trace !== null) this.trace({ kind: "drop", at: this.loop.now, from, to, bytes, reason });
  }
}

export interface Path {
  forward: Link;
  reverse: Link;
}

export interface DumbbellConfig {
  /** the bottleneck from the left hosts to the right hosts */
  forward: LinkConfig;
  /** the bottleneck from right to left (defaults to the forward config) */
  reverse?: LinkConfig;
  name?: string;
}

/**
 * Several flows sharing one bottleneck link per direction. Each flow is a (left host, right host)
 * pair with an optional access delay added in each direction, so flows can have different RTTs.
 */
export class Dumbbell implements Path {
  readonly forward: Link;
  readonly reverse: Link;

  constructor(
    private readonly network: Network,
    config: DumbbellConfig,
  ) {
    const name = config.name ?? "dumbbell";
    this.forward = network.createLink(`${name}:forward`, config.forward);
    this.reverse = network.createLink(`${name}:reverse`, config.reverse ?? config.forward);
  }

  /** route leftHost → rightHost over `forward` and back over `reverse` */
  addFlow(leftHost: string, rightHost: string, accessDelay: Micros = 0): void {
    this.network.addRoute(leftHost, rightHost, this.forward, accessDelay);
    this.network.addRoute(rightHost, leftHost, this.reverse, accessDelay);
  }
}
