/**
 * Micro-benchmark of the network simulator: pushes 1,000,000 datagrams of 1,400 bytes through a
 * 1 Gbit/s, 25 ms link (the receiver answers every second datagram with a 64-byte ACK over the
 * reverse link) and prints datagrams per second of wall time. Receivers recycle datagrams into a pool
 * so the figure measures the simulator, not Uint8Array allocation (which costs about as much again).
 * Run: npx tsc -p . && node dist/bench/sim-network.js [packets]
 */
import { performance } from "node:perf_hooks";
import { EventLoop, Network, Random, bdpBytes, type SimNode } from "../src/sim/index.js";

const PACKETS = Number(process.argv[2] ?? 1_000_000);
const SIZE = 1400;
const RATE_BPS = 1e9;
const BATCH_INTERVAL = 100; // µs: the sender hands the network a batch of datagrams per tick

const loop = new EventLoop();
const network = new Network(loop, new Random("bench"));
const path = network.connect("10.0.0.1", "10.0.0.2", {
  rateBps: RATE_BPS,
  delay: 25_000,
  queueBytes: bdpBytes(RATE_BPS, 50_000),
});

const pool: Uint8Array[] = [];
let sent = 0;
let received = 0;
let acks = 0;
const perBatch = Math.floor((RATE_BPS * BATCH_INTERVAL) / 8e6 / SIZE);
const sender: SimNode = {
  address: "10.0.0.1:5000",
  receive: () => {
    acks++;
  },
};
const receiver: SimNode = {
  address: "10.0.0.2:5000",
  receive: (_now, datagram, from) => {
    received++;
    pool.push(datagram);
    if (received % 2 === 0) network.send(receiver.address, from, new Uint8Array(64));
  },
};
network.attach(sender);
network.attach(receiver);

function sendBatch(): void {
  for (let i = 0; i < perBatch && sent < PACKETS; i++, sent++) {
    network.send(sender.address, receiver.address, pool.pop() ?? new Uint8Array(SIZE));
  }
  if (sent < PACKETS) loop.after(BATCH_INTERVAL, sendBatch);
}

const started = performance.now();
sendBatch();
loop.run();
const seconds = (performance.now() - started) / 1000;
const c = path.forward.counters;
console.log(
  `${PACKETS} datagrams (+${acks} ACKs) in ${seconds.toFixed(2)} s wall, ` +
    `${(loop.now / 1e6).toFixed(2)} s virtual: ${Math.round(PACKETS / seconds).toLocaleString("en")} datagrams/s ` +
    `(delivered ${c.delivered}, queue drops ${c.droppedQueue}, events ${loop.eventsRun})`,
);
