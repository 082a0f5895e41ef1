import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { UdpSocket } from "../../src/io/udp-socket.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("slipstream lossy-relay forwards datagrams with the configured delay and stops on SIGTERM", async () => {
  const echo = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  echo.onDatagram((data, from) => echo.send(data, from));
  const probe = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  const free = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  const relayPort = free.localAddress.port;
  await free.close();
  const child = spawn(
    process.execPath,
    [
      cli,
      "lossy-relay",
      "--listen",
      `127.0.0.1:${relayPort}`,
      "--target",
      `127.0.0.1:${echo.localAddress.port}`,
      "--rtt-ms",
      "40",
      "--stats-seconds",
      "0",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    assert.match(line.toString(), /listening on 127\.0\.0\.1:\d+/);
    const got = new Promise<number>((resolve) => probe.onDatagram(() => resolve(performance.now())));
    const sent = performance.now();
    probe.send(new TextEncoder().encode("ping"), { address: "127.0.0.1", port: relayPort });
    const arrived = await got;
    // Through the relay to the echo and back: 20 ms each way.
    assert.ok(arrived - sent >= 40, `echo came back after ${(arrived - sent).toFixed(1)} ms`);
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await probe.close();
    await echo.close();
  }
});
