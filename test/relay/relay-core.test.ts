import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  RelayCore,
  type RelayAction,
  type RelayChannel,
  type RelayCoreOptions,
} from "../../src/core/relay/relay-core.js";
import {
  encodeControlBody,
  FrameReader,
  lengthPrefixed,
  MAX_CONTROL_FRAME,
  parseControlMessage,
  type ControlMessage,
} from "../../src/core/relay/control-messages.js";
import { decodeEnvelope, encodeData, encodePeer, encodeSignal } from "../../src/core/relay/envelope.js";
import {
  attachMac,
  fromBase64Url,
  innerAttachKey,
  macMatches,
  toBase64Url,
} from "../../src/core/relay/x25519.js";
import { CONTROL_SEALED, ControlSeal } from "../../src/core/relay/control-seal.js";
import { serverKeyPair } from "./helpers.js";

/** Deterministic "random" bytes for the core. */
function seeded(): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 32) createHash("sha256").update(String(counter++)).digest().copy(out, i);
    return out;
  };
}

const RELAY = serverKeyPair();

function makeCore(allowed: string[], extra: Partial<RelayCoreOptions> = {}): RelayCore {
  return new RelayCore({
    relayPrivateKey: RELAY.privateKey,
    allowedKeys: allowed,
    udpPort: 8887,
    randomBytes: seeded(),
    ...extra,
  });
}

function drain(core: RelayCore): RelayAction[] {
  const out: RelayAction[] = [];
  for (let a = core.pollAction(); a; a = core.pollAction()) out.push(a);
  return out;
}

/** A control message as an unsealed frame (before the welcome, or as an attacker would inject it). */
function plainFrame(message: ControlMessage): Buffer {
  return lengthPrefixed(encodeControlBody(message));
}

/** The inner servers' ends of the control connections that attached, per core and connection. */
const seals = new WeakMap<RelayCore, Map<number, ControlSeal>>();

function sealOf(core: RelayCore, conn: number): ControlSeal | undefined {
  return seals.get(core)?.get(conn);
}

/** The messages the relay sent `conn` among `actions`, opened as its inner server would. */
function messagesTo(core: RelayCore, actions: RelayAction[], conn: number): ControlMessage[] {
  const reader = new FrameReader();
  return actions
    .filter((a): a is Extract<RelayAction, { type: "send" }> => a.type === "send" && a.conn === conn)
    .flatMap((a) => reader.push(a.bytes))
    .map((frame) => {
      const seal = sealOf(core, conn);
      const body = frame[0] === CONTROL_SEALED && seal ? seal.open(frame) : frame;
      return parseControlMessage(body!)!;
    });
}

/** A frame from `conn`'s inner server: sealed once it attached. */
function frameFrom(core: RelayCore, conn: number, body: Uint8Array): Buffer {
  const seal = sealOf(core, conn);
  return lengthPrefixed(seal ? seal.seal(body) : body);
}

function control(core: RelayCore, now: number, conn: number, message: ControlMessage): void {
  core.controlData(now, conn, frameFrom(core, conn, encodeControlBody(message)));
}

/** Runs the inner server's side of the challenge; returns the welcome (or refusal) and the actions. */
function attach(core: RelayCore, conn: number, inner: ReturnType<typeof serverKeyPair>, forgeMac = false) {
  assert.equal(core.controlOpened(0, conn, `10.0.0.${conn}:5000`, "192.0.2.1"), true);
  const [hello] = messagesTo(core, drain(core), conn);
  assert.equal(hello?.t, "hello");
  if (hello?.t !== "hello") throw new Error("no hello");
  const serverNonce = Buffer.alloc(16, conn);
  const key = innerAttachKey(inner.privateKey, {
    relayKey: fromBase64Url(hello.relayKey, 32)!,
    ephemeral: fromBase64Url(hello.ephemeral, 32)!,
    relayNonce: fromBase64Url(hello.nonce, 16)!,
    serverKey: inner.publicKey,
    serverNonce,
  });
  const mac = forgeMac ? Buffer.alloc(32, 7) : attachMac(key, "inner");
  core.controlData(
    1,
    conn,
    plainFrame({
      t: "auth",
      serverKey: inner.text,
      nonce: toBase64Url(serverNonce),
      mac: toBase64Url(mac),
    }),
  );
  const actions = drain(core);
  const connections = seals.get(core) ?? new Map<number, ControlSeal>();
  seals.set(core, connections);
  connections.set(conn, ControlSeal.fromAttachKey(key, "inner"));
  const reply = messagesTo(core, actions, conn)[0]!;
  if (reply.t !== "welcome") connections.delete(conn);
  if (reply.t === "welcome")
    assert.ok(macMatches(attachMac(key, "relay"), fromBase64Url(reply.mac, 32)!), "relay proved its key");
  return { reply, actions, token: reply.t === "welcome" ? fromBase64Url(reply.token, 8)! : Buffer.alloc(8) };
}

function openPublic(core: RelayCore, conn: number, port: number): RelayChannel {
  control(core, 2, conn, { t: "openPort", req: 1, port });
  const action = drain(core).find((a) => a.type === "openPublic");
  assert.ok(action?.type === "openPublic");
  core.channelResult(action.channel, { port: port || 40000, host: "0.0.0.0" });
  const [opened] = messagesTo(core, drain(core), conn);
  assert.equal(opened?.t, "portOpened");
  return action.channel;
}

const SERVER_UDP = { address: "198.51.100.7", port: 40123 };

test("an allowed server attaches, its public port forwards both ways with the sender's true address", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  const { reply, token } = attach(core, 1, inner);
  assert.equal(reply.t, "welcome");
  if (reply.t !== "welcome") return;
  assert.equal(reply.publicHost, "192.0.2.1");
  assert.equal(reply.udpPort, 8887);
  const channel = openPublic(core, 1, 8886);
  const payload = Buffer.from("ciphertext, never looked into");
  const outside = { address: "203.0.113.9", port: 5555 };

  assert.equal(core.fromOutside(10, channel, payload, outside), null, "no UDP path yet");
  assert.equal(core.counters.dropsNoServerPath, 1);

  const pong = core.fromServer(11, encodeSignal("ping", token), SERVER_UDP);
  assert.equal(pong?.kind, "reply");
  assert.deepEqual(pong?.kind === "reply" && decodeEnvelope(pong.datagram), {
    kind: "pong",
    token: token.toString("hex"),
  });

  const inbound = core.fromOutside(12, channel, payload, outside)!;
  assert.deepEqual(inbound.to, SERVER_UDP);
  const decoded = decodeEnvelope(inbound.datagram);
  assert.ok(decoded?.kind === "data");
  assert.deepEqual(decoded.peer, outside);
  assert.equal(decoded.channel, channel.number);
  assert.deepEqual(Buffer.from(decoded.payload), payload);

  const answer = Buffer.from("reply");
  const out = core.fromServer(13, encodeData(token, channel.number, encodePeer(outside), answer), SERVER_UDP);
  assert.ok(out?.kind === "outside");
  assert.deepEqual(out.to, outside);
  assert.equal(out.channel, channel);
  assert.deepEqual(Buffer.from(out.payload), answer);
  assert.equal(core.counters.packetsToServers, 1);
  assert.equal(core.counters.packetsFromServers, 1);
});

test("sender-side channel: the relay sends only to the registered destination", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  const { token } = attach(core, 1, inner);
  control(core, 2, 1, { t: "openChannel", req: 5, host: "203.0.113.20", port: 8886 });
  const action = drain(core).find((a) => a.type === "openOutgoing");
  assert.ok(action?.type === "openOutgoing");
  assert.equal(action.host, "203.0.113.20");
  core.channelResult(action.channel, { port: 50000, host: "0.0.0.0" });
  assert.deepEqual(messagesTo(core, drain(core), 1)[0], {
    t: "channelOpened",
    req: 5,
    channel: action.channel.number,
    localHost: "0.0.0.0",
    localPort: 50000,
  });
  const elsewhere = { address: "192.0.2.99", port: 1 };
  const out = core.fromServer(
    3,
    encodeData(token, action.channel.number, encodePeer(elsewhere), Buffer.from("x")),
    SERVER_UDP,
  );
  assert.ok(out?.kind === "outside");
  assert.deepEqual(out.to, { address: "203.0.113.20", port: 8886 });
  const back = core.fromOutside(4, action.channel, Buffer.from("ack"), {
    address: "203.0.113.20",
    port: 8886,
  });
  assert.deepEqual(back?.to, SERVER_UDP);
});

test("a key not on the list is refused with NOT_AUTHORIZED naming it; a forged proof with AUTH_FAILED", () => {
  const allowed = serverKeyPair();
  const stranger = serverKeyPair();
  const core = makeCore([allowed.text]);
  const refused = attach(core, 1, stranger);
  assert.deepEqual(refused.reply, {
    t: "refused",
    code: "NOT_AUTHORIZED",
    message: `key ${stranger.text} is not allowed on this relay`,
  });
  assert.ok(refused.actions.some((a) => a.type === "closeControl" && a.conn === 1));
  const forged = attach(core, 2, allowed, true);
  assert.equal(forged.reply.t, "refused");
  assert.equal(forged.reply.t === "refused" && forged.reply.code, "AUTH_FAILED");
  assert.equal(core.counters.refusedServers, 2);
  assert.equal(core.attachments.length, 0);
  assert.equal(attach(makeCore([], { allowAnyServer: true }), 1, stranger).reply.t, "welcome");
});

test("datagrams for unknown attachments or channels and malformed envelopes are dropped and counted", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  const { token } = attach(core, 1, inner);
  const channel = openPublic(core, 1, 0);
  const peer = encodePeer({ address: "203.0.113.9", port: 1 });
  assert.equal(
    core.fromServer(0, encodeData(Buffer.alloc(8, 9), channel.number, peer, Buffer.from("x")), SERVER_UDP),
    null,
  );
  assert.equal(core.counters.dropsUnknownAttachment, 1);
  assert.equal(core.fromServer(0, encodeData(token, 999, peer, Buffer.from("x")), SERVER_UDP), null);
  assert.equal(core.counters.dropsUnknownChannel, 1);
  const badFamily = encodeData(token, channel.number, peer, Buffer.from("x"));
  badFamily[11] = 5;
  assert.equal(core.fromServer(0, badFamily, SERVER_UDP), null);
  assert.equal(core.fromServer(0, Buffer.from([0xe1, 1, 2]), SERVER_UDP), null);
  assert.equal(core.counters.dropsMalformedDatagram, 2);
  // a plain Slipstream datagram (version byte 1) sent to the relay's UDP port by mistake
  const plain = Buffer.alloc(40, 0);
  plain[0] = 1;
  assert.equal(core.fromServer(0, plain, SERVER_UDP), null);
  let seed = 1;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % 256;
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(Array.from({ length: rand() % 64 }, rand));
    if (i % 2 === 0 && junk.length > 9) token.copy(junk, 1);
    core.fromServer(0, junk, SERVER_UDP);
  }
  assert.equal(core.attachments.length, 1);
  // after the server detaches, its channel and token are gone
  core.controlClosed(5, 1);
  assert.ok(drain(core).some((a) => a.type === "closeChannel" && a.channel === channel));
  assert.equal(core.fromOutside(6, channel, Buffer.from("late"), { address: "203.0.113.9", port: 1 }), null);
  assert.equal(core.fromServer(6, encodeSignal("ping", token), SERVER_UDP), null);
});

test("malformed control messages are dropped and counted; an oversized frame closes the connection", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  attach(core, 1, inner);
  const frame = (json: string) => frameFrom(core, 1, Buffer.from(json));
  for (const bad of [
    "{",
    "[]",
    "null",
    '{"t":"nope"}',
    '{"t":"openPort","req":1,"port":70000}',
    '{"t":"openPort","req":-1,"port":1}',
    '{"t":"openChannel","req":1,"host":5,"port":1}',
    '{"t":"welcome","mac":"a","token":"b","udpPort":1,"publicHost":"x"}',
  ]) {
    core.controlData(2, 1, frame(bad));
  }
  assert.equal(core.counters.malformedControl, 8);
  const replies = messagesTo(core, drain(core), 1);
  assert.ok(replies.every((m) => m.t === "error" && m.code === "PROTOCOL"));
  assert.equal(core.attachments.length, 1, "still attached");
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(MAX_CONTROL_FRAME + 1);
  core.controlData(3, 1, huge);
  assert.ok(drain(core).some((a) => a.type === "closeControl" && a.conn === 1));
  assert.equal(core.attachments.length, 0);
  assert.equal(core.counters.oversizedControl, 1);
  // an unauthenticated connection sending something else than auth is refused
  core.controlOpened(4, 2, "x", "y");
  drain(core);
  control(core, 4, 2, { t: "openPort", req: 1, port: 1 });
  assert.equal(messagesTo(core, drain(core), 2)[0]?.t, "refused");
});

test("one flooding source is held to its rate while another source still gets through", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text], { sourceRate: 1_000_000, sourceBurst: 100_000 });
  const { token } = attach(core, 1, inner);
  const channel = openPublic(core, 1, 0);
  core.fromServer(0, encodeSignal("ping", token), SERVER_UDP);
  const block = Buffer.alloc(1000);
  const flooder = { address: "203.0.113.66", port: 1 };
  const polite = { address: "203.0.113.77", port: 2 };
  let flooded = 0;
  let politeThrough = 0;
  // one virtual second in 1 ms steps: the flooder offers 10 MB, the polite source 100 kB
  for (let ms = 0; ms < 1000; ms++) {
    const now = ms * 1000;
    for (let i = 0; i < 10; i++) if (core.fromOutside(now, channel, block, flooder)) flooded++;
    if (core.fromOutside(now, channel, Buffer.alloc(100), polite)) politeThrough++;
  }
  // burst (100 kB) + 1 s at 1 MB/s, give or take a packet
  assert.ok(flooded >= 1090 && flooded <= 1101, `flooder got ${flooded} kB through`);
  assert.equal(politeThrough, 1000);
  assert.ok(core.counters.dropsRateLimited > 8000);
});

test("memory stays bounded: sources, unauthenticated connections, channels per server", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text], {
    sourceRate: 1_000_000,
    maxSources: 100,
    maxPendingControl: 4,
    maxChannelsPerServer: 3,
    authTimeout: 5_000_000,
  });
  const { token } = attach(core, 1, inner);
  const channel = openPublic(core, 1, 0);
  core.fromServer(0, encodeSignal("ping", token), SERVER_UDP);
  for (let i = 0; i < 10_000; i++) {
    core.fromOutside(i, channel, Buffer.alloc(10), {
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 9,
    });
  }
  assert.ok(core.trackedSources <= 100);
  for (let conn = 10; conn < 14; conn++) assert.equal(core.controlOpened(0, conn, "x", "y"), true);
  assert.equal(
    core.controlOpened(0, 14, "x", "y"),
    false,
    "a fifth unauthenticated connection is turned away",
  );
  drain(core);
  assert.equal(core.pollTimeout(), 5_000_000);
  core.handleTimeout(5_000_000);
  assert.equal(drain(core).filter((a) => a.type === "closeControl").length, 4);
  assert.equal(core.counters.authTimeouts, 4);
  assert.equal(core.pendingCount, 0);
  for (let req = 2; req < 5; req++) control(core, 0, 1, { t: "openPort", req, port: 0 });
  const replies = messagesTo(core, drain(core), 1);
  assert.deepEqual(
    replies.map((m) => m.t),
    ["openFailed"],
  );
  assert.equal(replies[0]?.t === "openFailed" && replies[0].code, "LIMIT");
});

test("a server that attaches again replaces its old attachment; max servers and port ranges are enforced", () => {
  const a = serverKeyPair();
  const b = serverKeyPair();
  const core = makeCore([a.text, b.text], { maxServers: 1, publicPorts: [{ from: 9000, to: 9010 }] });
  const first = attach(core, 1, a);
  const second = attach(core, 2, a);
  assert.equal(second.reply.t, "welcome");
  assert.ok(second.actions.some((x) => x.type === "closeControl" && x.conn === 1));
  assert.equal(core.fromServer(0, encodeSignal("ping", first.token), SERVER_UDP), null);
  const full = attach(core, 3, b);
  assert.equal(full.reply.t === "refused" && full.reply.code, "RELAY_FULL");
  control(core, 0, 2, { t: "openPort", req: 1, port: 8886 });
  const [refusedPort] = messagesTo(core, drain(core), 2);
  assert.equal(refusedPort?.t === "openFailed" && refusedPort.code, "PORT_NOT_ALLOWED");
});

test("a tunnelled server gets its datagrams over the control connection and may send through it", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  const { token } = attach(core, 1, inner);
  const channel = openPublic(core, 1, 0);
  control(core, 2, 1, { t: "path", udp: false });
  drain(core);
  const outside = { address: "203.0.113.9", port: 7 };
  const inbound = core.fromOutside(3, channel, Buffer.from("in"), outside);
  assert.equal(inbound?.to, null, "no UDP path needed: the control connection carries it");
  assert.equal(inbound?.conn, 1);
  const envelope = encodeData(token, channel.number, encodePeer(outside), Buffer.from("out"));
  core.controlData(4, 1, frameFrom(core, 1, envelope));
  const forward = drain(core).find((a) => a.type === "forward");
  assert.ok(forward?.type === "forward" && forward.forward.kind === "outside");
  assert.deepEqual(forward.forward.to, outside);
  assert.deepEqual(Buffer.from(forward.forward.payload), Buffer.from("out"));
  // an envelope with another token on this connection is dropped
  const foreign = encodeData(Buffer.alloc(8, 1), channel.number, encodePeer(outside), Buffer.from("x"));
  core.controlData(5, 1, frameFrom(core, 1, foreign));
  assert.equal(drain(core).filter((a) => a.type === "forward").length, 0);
  assert.equal(core.counters.dropsUnknownAttachment, 1);
  control(core, 6, 1, { t: "path", udp: true });
  core.fromServer(7, encodeSignal("ping", token), SERVER_UDP);
  assert.deepEqual(core.fromOutside(8, channel, Buffer.from("in"), outside)?.to, SERVER_UDP);
});

test("after the welcome every control frame is sealed: injected, replayed and unsealed frames close the connection", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  const { reply } = attach(core, 1, inner);
  assert.equal(reply.t, "welcome");
  // what the relay sends from now on is sealed: nothing readable on the wire
  control(core, 1, 1, { t: "openPort", req: 1, port: 0 });
  const sent = drain(core).filter((a) => a.type === "openPublic" || a.type === "send");
  assert.ok(
    sent.some((a) => a.type === "openPublic"),
    "a sealed request is obeyed",
  );
  // a frame in the clear, as an on-path attacker would inject it
  const closes = (frame: Buffer, conn: number) => {
    core.controlData(2, conn, frame);
    return drain(core).some((a) => a.type === "closeControl" && a.conn === conn);
  };
  assert.ok(closes(plainFrame({ t: "openChannel", req: 2, host: "203.0.113.1", port: 9 }), 1));
  assert.equal(core.attachments.length, 0, "the attachment is gone");
  assert.equal(core.counters.malformedControl, 1);

  // a replayed sealed frame
  const other = serverKeyPair();
  const core2 = makeCore([other.text]);
  attach(core2, 1, other);
  const frame = frameFrom(core2, 1, encodeControlBody({ t: "path", udp: false }));
  core2.controlData(3, 1, frame);
  assert.equal(core2.attachments[0]?.tunnelled, true);
  core2.controlData(4, 1, frame);
  assert.ok(
    drain(core2).some((a) => a.type === "closeControl" && a.conn === 1),
    "a replay closes it",
  );

  // a sealed frame with one bit changed
  const third = serverKeyPair();
  const core3 = makeCore([third.text]);
  attach(core3, 1, third);
  const altered = frameFrom(core3, 1, encodeControlBody({ t: "path", udp: false }));
  altered[altered.length - 20]! ^= 1;
  core3.controlData(5, 1, altered);
  assert.ok(
    drain(core3).some((a) => a.type === "closeControl" && a.conn === 1),
    "an altered frame closes it",
  );
  assert.equal(core3.attachments.length, 0);
});

test("the welcome and everything after it only open with the attach key of that connection", () => {
  const inner = serverKeyPair();
  const core = makeCore([inner.text]);
  attach(core, 1, inner);
  control(core, 1, 1, { t: "path", udp: false });
  control(core, 2, 1, { t: "path", udp: true });
  core.controlData(3, 1, Buffer.from([0, 0, 0, 2, 0x7b, 0x7d])); // "{}" unsealed: closes
  const frames = drain(core).filter((a) => a.type === "send");
  for (const a of frames) if (a.type === "send") assert.equal(a.bytes[4], CONTROL_SEALED);
  // a seal from another attach key cannot open them
  const stranger = ControlSeal.fromAttachKey(Buffer.alloc(32, 9), "inner");
  const reader = new FrameReader();
  for (const a of frames)
    if (a.type === "send") for (const f of reader.push(a.bytes)) assert.equal(stranger.open(f), null);
});
