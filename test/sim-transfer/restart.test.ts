/**
 * Checkpoints and resume in the simulator: a receiver that restarts from its last checkpoint and a
 * sender that restarts from nothing both finish the transfer byte-identical, and only what was not
 * on disk is sent and written again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from "../../src/core/transport/connection.js";
import { SenderEndpoint } from "../../src/core/endpoint/sender.js";
import { ReceiverEndpoint } from "../../src/core/endpoint/receiver.js";
import type { TransferSpec } from "../../src/core/transfer/send-transfer.js";
import { EventLoop } from "../../src/sim/event-loop.js";
import { Random } from "../../src/core/util/random.js";
import { Dumbbell, Network } from "../../src/sim/network.js";
import { bdpBytes } from "../../src/sim/link.js";
import { SimReceiverNode, SimSenderNode } from "../../src/sim/transfer/nodes.js";
import { SyntheticFile, VerifyingSink } from "../../src/sim/transfer/synthetic-files.js";

const ID = "ab".repeat(16);
const SIZES = [6_000_000, 0, 2_500_000, 1];
const RATE = 50e6;
const RTT = 40_000;

function world(seed: string) {
  const loop = new EventLoop();
  const rng = new Random(seed);
  const network = new Network(loop, rng.fork("net"));
  const path = new Dumbbell(network, {
    forward: { rateBps: RATE, delay: RTT / 2, queueBytes: bdpBytes(RATE, RTT) },
  });
  path.addFlow("10.0.0.1", "10.0.0.2");
  const config: ConnectionConfig = {
    ...DEFAULT_CONNECTION_CONFIG,
    pacerMaxBurst: 0,
    windowRttFloor: 0,
    peerTimeout: 5_000_000,
  };
  const ids = rng.fork("ids");
  const files = SIZES.map((size, i) => new SyntheticFile(`${seed}:${i}`, size));
  const spec = (resumed: boolean): TransferSpec => ({
    id: ID,
    destinationPath: "in",
    overwrite: "always",
    files: SIZES.map((size, i) => ({ path: `f${i}`, size, mtime: 1000 + i })),
    resumed,
  });
  const newSender = (resumed: boolean) => {
    const endpoint = new SenderEndpoint({
      config: { ...config },
      local: { serverId: null, serverUid: null },
      randomBytes: (n) => Uint8Array.from({ length: n }, () => ids.int(256)),
    });
    const node = new SimSenderNode("10.0.0.1:5000", "10.0.0.2:8886", loop, network, endpoint, 50);
    node.sources.set(ID, files);
    network.attach(node);
    const transfer = endpoint.addTransfer(loop.now, spec(resumed));
    node.pump();
    return { endpoint, node, transfer };
  };
  const newReceiver = () => {
    const endpoint = new ReceiverEndpoint({
      config: { ...config },
      local: { serverId: null, serverUid: null },
    });
    const node = new SimReceiverNode("10.0.0.2:8886", loop, network, endpoint, { writeRate: Infinity }, true);
    network.attach(node);
    return { endpoint, node };
  };
  const writtenBytes = (node: SimReceiverNode) =>
    (node.sinks.get(ID) ?? []).reduce((a, s) => a + s.ranges().reduce((b, [x, y]) => b + y - x, 0), 0);
  const assertIdentical = (node: SimReceiverNode) => {
    const sinks = node.sinks.get(ID)!;
    files.forEach((f, i) => assert.ok(sinks[i]!.content!.equals(f.read(0, f.size)), `file ${i} differs`));
    for (const s of sinks) assert.equal(s.overwrittenBytes, 0, "a byte range was written twice");
  };
  return { loop, network, files, newSender, newReceiver, writtenBytes, assertIdentical };
}

test("a receiver restarted from its last checkpoint resumes without receiving what it kept", () => {
  const w = world("receiver-restart");
  const sender = w.newSender(false);
  const first = w.newReceiver();
  w.loop.run({ until: 800_000 });
  // The crash: everything written after the checkpoint is lost, the rest is on disk.
  const checkpoint = first.node.sinks.get(ID)!.map((s) => s.ranges());
  const kept = checkpoint.reduce((a, r) => a + r.reduce((b, [x, y]) => b + y - x, 0), 0);
  const total = SIZES.reduce((a, b) => a + b, 0);
  assert.ok(kept > 0 && kept < total, `checkpoint holds ${kept} of ${total} bytes`);
  w.network.detach(first.node.address);
  const second = w.newReceiver();
  // The restarted receiver's sinks hold the checkpointed bytes; its resume data says which.
  second.node.sinks.set(
    ID,
    w.files.map((f, i) => {
      const sink = new VerifyingSink(f.size, true);
      for (const [x, y] of checkpoint[i]!) sink.write(x, f.read(x, y - x));
      return sink;
    }),
  );
  const writesBefore = w.writtenBytes(second.node);
  second.node.resume.set(
    ID,
    new Map(SIZES.map((size, i) => [i, { size, mtime: 1000 + i, ranges: checkpoint[i]!, complete: false }])),
  );
  w.loop.run({
    until: 60_000_000,
    stopWhen: () => sender.node.events.some((e) => e.type === "transferComplete"),
  });
  assert.ok(
    sender.node.events.some((e) => e.type === "transferComplete"),
    "transfer completed",
  );
  w.assertIdentical(second.node);
  assert.equal(
    w.writtenBytes(second.node) - writesBefore,
    total - kept,
    "only the missing bytes were written",
  );
});

test("a restarted sender resumes: only what the receiver lacks is sent again", () => {
  const w = world("sender-restart");
  const first = w.newSender(false);
  const receiver = w.newReceiver();
  w.loop.run({ until: 800_000 });
  const heldAtCrash = w.writtenBytes(receiver.node);
  const total = SIZES.reduce((a, b) => a + b, 0);
  assert.ok(heldAtCrash > 0 && heldAtCrash < total);
  w.network.detach(first.node.address);
  first.endpoint.close(w.loop.now);
  const second = w.newSender(true);
  w.loop.run({
    until: 60_000_000,
    stopWhen: () => second.node.events.some((e) => e.type === "transferComplete"),
  });
  assert.ok(
    second.node.events.some((e) => e.type === "transferComplete"),
    "transfer completed",
  );
  w.assertIdentical(receiver.node);
  // Blocks in flight at the crash may still land after it; nothing the receiver held is sent again
  // (retransmissions of the new session's own losses aside).
  const p = second.transfer.progress();
  const fresh = p.bytesSent - p.bytesRetransmitted;
  assert.ok(fresh <= total - heldAtCrash, `sent ${fresh} new bytes, receiver lacked ${total - heldAtCrash}`);
  assert.ok(fresh > 0);
});
