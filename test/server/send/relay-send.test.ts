/**
 * A destination that sends through a sender-side relay (three processes on loopback): the
 * transfer is byte-identical, relayIP/relayPort show the relay, and a server whose key the relay
 * does not allow gets RELAY_UNAVAILABLE naming the reason.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startRelayAllowing } from "../../relay/helpers.js";
import { launch, stop } from "./processes.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("a destination with relayHost sends through the relay; a refused key is reported", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-relay-send-"));
  const receiver = await launch(join(base, "recv"), [
    "--recv-port",
    "0",
    "--recv-allow-anonymous",
    "--sandbox-dir",
    join(base, "sandbox"),
  ]);
  const sender = await launch(join(base, "send"), ["--recv-port", "0"]);
  const senderKey = ((await sender.api.call("getServerInfo", {})) as { publicKey: string }).publicKey;
  const receiverKey = ((await receiver.api.call("getServerInfo", {})) as { publicKey: string }).publicKey;
  const relay = await startRelayAllowing(join(base, "relay-state"), senderKey);
  try {
    await mkdir(join(base, "src"));
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(join(base, "src", "f.bin"), data);
    const dest = (await sender.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: receiver.recvPort,
      destinationPublicKey: receiverKey,
      relayHost: "127.0.0.1",
      relayPort: relay.port,
    })) as { destinationId: string; connectionId: string; relayHost: string | null };
    assert.equal(dest.relayHost, "127.0.0.1");
    const m = (await sender.api.call("send.createManifest", {
      fileMappings: [`${join(base, "src", "f.bin")}:f.bin`],
    })) as { manifestId: string };
    await sender.api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
    const t = (await sender.api.call("send.createTransfer", {
      manifestId: m.manifestId,
      destinationId: dest.destinationId,
      destinationPath: "via-relay",
    })) as { transferId: string };
    const end = (await sender.api.call("send.waitForTransfer", {
      transferId: t.transferId,
      timeoutSeconds: 60,
    })) as {
      status: string;
      errorMessage: string;
    };
    assert.equal(end.status, "complete", end.errorMessage);
    assert.equal(sha(await readFile(join(base, "sandbox", "via-relay", "f.bin"))), sha(data));
    await sleep(1100);
    const c = (await sender.api.call("send.getConnection", { connectionId: dest.connectionId })) as Record<
      string,
      unknown
    >;
    assert.equal(c.relayIP, "127.0.0.1");
    assert.equal(c.relayPort, relay.port);
    assert.equal(c.encryptionEnabled, true);
    assert.equal(c.lastError, null);

    // another server, not on the relay's list
    const stranger = await launch(join(base, "stranger"), ["--recv-port", "0"]);
    try {
      const d2 = (await stranger.api.call("send.createDestination", {
        destinationAddress: "127.0.0.1",
        destinationPort: receiver.recvPort,
        destinationPublicKey: receiverKey,
        relayHost: "127.0.0.1",
        relayPort: relay.port,
      })) as { connectionId: string };
      let c2: Record<string, unknown> = {};
      for (let i = 0; i < 40 && c2.lastError !== "RELAY_UNAVAILABLE"; i++) {
        await sleep(250);
        c2 = (await stranger.api.call("send.getConnection", { connectionId: d2.connectionId })) as Record<
          string,
          unknown
        >;
      }
      assert.equal(c2.lastError, "RELAY_UNAVAILABLE");
      assert.match(String(c2.lastErrorMessage), /NOT_AUTHORIZED/);
    } finally {
      await stop(stranger);
    }
  } finally {
    await relay.stop();
    await stop(sender);
    await stop(receiver);
    await rm(base, { recursive: true, force: true });
  }
});
