/**
 * The server's receive port: handshakes answered with the server's identity, the port reported in
 * getServerInfo and runtime.json, anonymous transfers refused unless allowed, and written under
 * the sandbox when they are.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { UdpSender } from "../../src/io/drivers/udp-sender.js";
import { generateKeyPair } from "../../src/core/crypto/keys.js";
import { receiveService } from "../../src/server/engine/receive-service.js";
import { startTestServer } from "../api/helpers.js";

test("a server's receive port answers with its identity and refuses anonymous transfers by default", async () => {
  const server = await startTestServer({ recvPorts: [0] }, { extensions: [receiveService()] });
  const base = await mkdtemp(join(tmpdir(), "slipstream-recv-"));
  try {
    const c = await server.admin();
    const info = (await c.call("getServerInfo", {})) as { receiver: { recvPorts: Array<{ port: number }> } };
    const port = info.receiver.recvPorts[0]!.port;
    assert.ok(port > 0);
    const runtime = JSON.parse(await readFile(join(server.stateDir, "runtime.json"), "utf8")) as {
      recvPorts: Array<{ port: number }>;
    };
    assert.equal(runtime.recvPorts[0]!.port, port);
    const sender = await UdpSender.open({
      host: "127.0.0.1",
      port,
      security: { keyPair: generateKeyPair() },
    });
    try {
      sender.connect();
      for (let i = 0; i < 100 && sender.endpoint.state !== "connected"; i++) await sleep(20);
      assert.equal(sender.endpoint.state, "connected");
      assert.equal(sender.endpoint.connection?.peer?.serverUid, server.handle.serverUid);
      assert.equal(sender.endpoint.connection?.peer?.serverId, server.handle.serverId);
      await writeFile(join(base, "f"), "data");
      const result = await sender.send({
        destinationPath: "in",
        files: [{ source: join(base, "f"), path: "f" }],
      });
      assert.equal(result.ok, false);
      assert.equal(result.code, "RECEIVER_REFUSED");
      assert.match(result.message ?? "", /anonymous/);
    } finally {
      await sender.close();
    }
  } finally {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  }
});

test("with --recv-allow-anonymous and a sandbox, files land under the sandbox", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-recv-"));
  const sandbox = join(base, "sandbox", "%u");
  const server = await startTestServer(
    { recvPorts: [0], recvAllowAnonymous: true, sandboxDir: sandbox },
    { extensions: [receiveService()] },
  );
  try {
    const c = await server.admin();
    const info = (await c.call("getServerInfo", {})) as { receiver: { recvPorts: Array<{ port: number }> } };
    const sender = await UdpSender.open({
      host: "127.0.0.1",
      port: info.receiver.recvPorts[0]!.port,
      security: { keyPair: generateKeyPair() },
    });
    try {
      await writeFile(join(base, "f"), "payload");
      const result = await sender.send({
        destinationPath: "in",
        files: [{ source: join(base, "f"), path: "a/f" }],
      });
      assert.equal(result.ok, true, result.message);
      assert.equal(await readFile(join(base, "sandbox", "anonymous", "in", "a", "f"), "utf8"), "payload");
    } finally {
      await sender.close();
    }
  } finally {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  }
});

test("a plain (unencrypted) sender is refused with ENCRYPTION_REQUIRED unless --min-cipher none", async () => {
  for (const minCipher of ["chacha20-poly1305", "none"] as const) {
    const server = await startTestServer({ recvPorts: [0], minCipher }, { extensions: [receiveService()] });
    try {
      const c = await server.admin();
      const info = (await c.call("getServerInfo", {})) as {
        receiver: { recvPorts: Array<{ port: number }> };
      };
      const sender = await UdpSender.open({ host: "127.0.0.1", port: info.receiver.recvPorts[0]!.port });
      try {
        sender.connect();
        for (let i = 0; i < 100 && sender.endpoint.state !== "connected" && !sender.endpoint.lastError; i++)
          await sleep(20);
        if (minCipher === "none") assert.equal(sender.endpoint.state, "connected");
        else assert.equal(sender.endpoint.lastError?.code, "ENCRYPTION_REQUIRED");
      } finally {
        await sender.close();
      }
    } finally {
      await server.stop();
    }
  }
});

test("--recv-allow-anonymous without a sandbox stops the start", async () => {
  await assert.rejects(
    startTestServer({ recvPorts: [0], recvAllowAnonymous: true }, { extensions: [receiveService()] }),
    /needs --sandbox-dir/,
  );
});
