// Throughput through LossyRelay (in a child process) on loopback: this process paces 1,400-byte
// datagrams at an offered rate through the relay to its own receiving socket.
// Usage: node dist/bench/io-relay.js [offered Mbit/s = 200] [relay rate Mbit/s, 0 = unlimited] [rtt ms = 40] [seconds = 3]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LossyRelay, type LossyRelayCounters } from "../src/io/lossy-relay.js";
import { UdpSocket } from "../src/io/udp-socket.js";

async function relayProcess(targetPort: number, rateMbit: number, rttMs: number): Promise<void> {
  const link = { delayMs: rttMs / 2, rateBitsPerSecond: rateMbit * 1e6 };
  const relay = await LossyRelay.start({
    listen: { host: "127.0.0.1", port: 0 },
    target: { host: "127.0.0.1", port: targetPort },
    forward: link,
    backward: { ...link },
  });
  process.send?.({ port: relay.address.port });
  process.once("message", () => {
    const counters = relay.counters;
    process.send?.(counters, () => void relay.close().then(() => process.exit(0)));
  });
}

async function main(offeredMbit: number, rateMbit: number, rttMs: number, seconds: number): Promise<void> {
  const size = 1400;
  const receiver = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: 4 << 20 });
  let first = 0;
  let last = 0;
  receiver.onDatagram(() => {
    last = performance.now();
    if (first === 0) first = last;
  });
  const child = fork(fileURLToPath(import.meta.url), [
    "--relay",
    String(receiver.localAddress.port),
    String(rateMbit),
    String(rttMs),
  ]);
  const port = await new Promise<number>((resolve) =>
    child.once("message", (m) => resolve((m as { port: number }).port)),
  );
  const sender = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    connectTo: { host: "127.0.0.1", port },
    sendBufferSize: 4 << 20,
  });
  const datagram = Buffer.alloc(size, 1);
  const perMs = (offeredMbit * 1e6) / 8 / size / 1000;
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - start;
      if (elapsed >= seconds * 1000) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor(elapsed * perMs);
      for (; sent < due; sent++) sender.send(datagram);
    }, 1);
  });
  await new Promise((resolve) => setTimeout(resolve, rttMs + 300));
  const counters = await new Promise<LossyRelayCounters>((resolve) => {
    child.once("message", (m) => resolve(m as LossyRelayCounters));
    child.send("report");
  });
  await Promise.all([sender.close(), receiver.close()]);
  const received = receiver.counters.datagramsReceived;
  const mbit = ((receiver.counters.bytesReceived * 8) / ((last - first) / 1000) / 1e6).toFixed(1);
  console.log(
    `LossyRelay, one-way delay ${rttMs / 2} ms, relay rate ${rateMbit || "unlimited"} Mbit/s, offered ${offeredMbit} Mbit/s for ${seconds} s`,
  );
  console.log(
    `  sent ${sent}, relay in ${counters.forward.datagramsIn}, relay out ${counters.forward.delivered}, queue drops ${counters.forward.queueDrops}`,
  );
  console.log(`  received ${received} (${((100 * received) / sent).toFixed(1)} %) at ${mbit} Mbit/s`);
}

if (process.argv[2] === "--relay") {
  await relayProcess(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else {
  const [offered = 200, rate = 0, rtt = 40, seconds = 3] = process.argv.slice(2).map(Number);
  await main(offered, rate, rtt, seconds);
}
