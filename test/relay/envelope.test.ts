import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addressBytes,
  decodeEnvelope,
  encodeData,
  encodePeer,
  encodeSignal,
} from "../../src/core/relay/envelope.js";
import { parsePortRanges, portAllowed, reconnectDelay } from "../../src/core/relay/port-ranges.js";
import { FrameReader, encodeControlBody, lengthPrefixed } from "../../src/core/relay/control-messages.js";

test("envelopes round-trip IPv4 and IPv6 peers and leave the payload untouched", () => {
  const token = Buffer.from("0102030405060708", "hex");
  for (const peer of [
    { address: "203.0.113.9", port: 8886 },
    { address: "::1", port: 1 },
    { address: "2001:db8::7:0:1", port: 65535 },
    { address: "fe80::1:2:3:4", port: 443 },
    { address: "::ffff:192.0.2.1", port: 9 },
  ]) {
    const payload = Buffer.from([1, 2, 3, 4]);
    const e = decodeEnvelope(encodeData(token, 513, encodePeer(peer), payload));
    assert.ok(e?.kind === "data");
    assert.equal(e.channel, 513);
    assert.equal(e.token, "0102030405060708");
    assert.deepEqual(e.peer, peer);
    assert.deepEqual(Buffer.from(e.payload), payload);
  }
  assert.deepEqual(decodeEnvelope(encodeSignal("ping", token)), { kind: "ping", token: "0102030405060708" });
  assert.equal(decodeEnvelope(Buffer.from([0xe2, 1])), null);
  assert.equal(addressBytes("256.1.1.1"), null);
  assert.equal(addressBytes("example.com"), null);
  assert.equal(addressBytes("1::2::3"), null);
  assert.throws(() => encodePeer({ address: "relay.example", port: 1 }));
});

test("port lists, ranges and reconnect backoff", () => {
  const ranges = parsePortRanges("8886, 9000-9010");
  assert.ok(portAllowed(ranges, 8886) && portAllowed(ranges, 9005) && !portAllowed(ranges, 8887));
  assert.throws(() => parsePortRanges("9010-9000"), /not a port or port range/);
  assert.throws(() => parsePortRanges("0"), /not a port/);
  assert.deepEqual(
    [0, 1, 2, 5, 6, 20].map((n) => reconnectDelay(n) / 1e6),
    [1, 2, 4, 32, 60, 60],
  );
});

test("control frames split anywhere in the TCP stream are reassembled", () => {
  const bytes = Buffer.concat([
    lengthPrefixed(encodeControlBody({ t: "close", channel: 1 })),
    lengthPrefixed(encodeControlBody({ t: "close", channel: 2 })),
  ]);
  const reader = new FrameReader();
  const frames = [...bytes].flatMap((b) => reader.push(Buffer.from([b])));
  assert.deepEqual(
    frames.map((f) => JSON.parse(f.toString()).channel),
    [1, 2],
  );
});
