import type { Micros } from "../../src/core/time.js";
import { EventLoop } from "../../src/sim/event-loop.js";
import type { LinkConfig } from "../../src/sim/link.js";
import { Network, type SimNode } from "../../src/sim/network.js";
import { Random } from "../../src/core/util/random.js";

export interface Received {
  at: Micros;
  data: Uint8Array;
  from: string;
}

/** a node that records everything it receives */
export class Recorder implements SimNode {
  readonly received: Received[] = [];
  constructor(readonly address: string) {}
  receive(now: Micros, datagram: Uint8Array, from: string): void {
    this.received.push({ at: now, data: datagram, from });
  }
}

/** a datagram of `size` bytes whose first four bytes carry `id` */
export function numbered(id: number, size: number): Uint8Array {
  const datagram = new Uint8Array(size);
  datagram[0] = id >>> 24;
  datagram[1] = id >>> 16;
  datagram[2] = id >>> 8;
  datagram[3] = id;
  return datagram;
}

export function idOf(datagram: Uint8Array): number {
  return ((datagram[0]! << 24) | (datagram[1]! << 16) | (datagram[2]! << 8) | datagram[3]!) >>> 0;
}

/** a network with one link from A to B (and back), a sender address on A and a Recorder on B */
export function pointToPoint(forward: LinkConfig, seed: string | number = 1) {
  const loop = new EventLoop();
  const network = new Network(loop, new Random(seed));
  const path = network.connect("10.0.0.1", "10.0.0.2", forward);
  const receiver = new Recorder("10.0.0.2:9000");
  network.attach(receiver);
  const from = "10.0.0.1:5000";
  return { loop, network, link: path.forward, receiver, from, to: receiver.address };
}

/**
 * send `count` numbered datagrams, one every `interval` µs starting at `start`; with `keepCopies`
 * returns a copy of each as sent
 */
export function sendSeries(
  setup: ReturnType<typeof pointToPoint>,
  count: number,
  size: number,
  interval: Micros,
  start: Micros = 0,
  keepCopies = false,
): Map<number, Uint8Array> {
  const sent = new Map<number, Uint8Array>();
  let i = 0;
  const sendNext = (): void => {
    do {
      const datagram = numbered(i, size);
      if (keepCopies) sent.set(i, datagram.slice());
      setup.network.send(setup.from, setup.to, datagram);
      i++;
    } while (interval === 0 && i < count);
    if (i < count) setup.loop.schedule(start + i * interval, sendNext);
  };
  if (count > 0) setup.loop.schedule(start, sendNext);
  return sent;
}
