// Loopback UDP throughput of UdpSocket: a child process receives, this one sends 1,400-byte
// datagrams as fast as it can for 3 s. Usage: node dist/bench/io-udp.js [seconds] [datagram bytes]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { UdpSocket } from "../src/io/udp-socket.js";

interface ReceiverReport {
  datagrams: number;
  bytes: number;
  seconds: number;
  grantedRecvBufferSize: number;
}

const BUFFER = 4 * 1024 * 1024;

async function receiver(): Promise<void> {
  const socket = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: BUFFER });
  let first = 0;
  let last = 0;
  socket.onDatagram(() => {
    last = performance.now();
    if (first === 0) first = last;
  });
  process.send?.({ port: socket.localAddress.port });
  process.once("message", async () => {
    const report: ReceiverReport = {
      datagrams: socket.counters.datagramsReceived,
      bytes: socket.counters.bytesReceived,
      seconds: (last - first) / 1000,
      grantedRecvBufferSize: socket.grantedRecvBufferSize,
    };
    process.send?.(report, () => void socket.close().then(() => process.exit(0)));
  });
}

async function sender(seconds: number, size: number): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["--receiver"]);
  const port = await new Promise<number>((resolve) =>
    child.once("message", (m) => resolve((m as { port: number }).port)),
  );
  const socket = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    connectTo: { host: "127.0.0.1", port },
    sendBufferSize: BUFFER,
  });
  const datagram = Buffer.alloc(size, 7);
  const start = performance.now();
  const end = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const burst = (): void => {
      for (let i = 0; i < 64; i++) socket.send(datagram);
      if (performance.now() < end) setImmediate(burst);
      else resolve();
    };
    burst();
  });
  const sendSeconds = (performance.now() - start) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the receiver drain
  const report = await new Promise<ReceiverReport>((resolve) => {
    child.once("message", (m) => resolve(m as ReceiverReport));
    child.send("report");
  });
  await socket.close();
  const sent = socket.counters;
  const mbit = (bytes: number, s: number): string => ((bytes * 8) / s / 1e6).toFixed(0);
  console.log(
    `UdpSocket loopback, ${size}-byte datagrams, ${seconds} s, recv buffer granted ${report.grantedRecvBufferSize}`,
  );
  console.log(
    `  sent     ${sent.datagramsSent} datagrams  ${(sent.datagramsSent / sendSeconds).toFixed(0)}/s  ${mbit(sent.bytesSent, sendSeconds)} Mbit/s` +
      `  (errors ${sent.sendErrors}, queue drops ${sent.sendDrops})`,
  );
  console.log(
    `  received ${report.datagrams} datagrams  ${(report.datagrams / report.seconds).toFixed(0)}/s  ${mbit(report.bytes, report.seconds)} Mbit/s` +
      `  (${((100 * report.datagrams) / sent.datagramsSent).toFixed(1)} % of sent)`,
  );
}

if (process.argv.includes("--receiver")) await receiver();
else await sender(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 1400));
