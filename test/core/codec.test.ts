import { test } from "node:test";
import assert from "node:assert/strict";
import { Reader, DecodeError, writeVarint, varintSize } from "../../src/core/wire/varint.js";
import { HEADER_SIZE, PacketType, parseHeader, writeHeader } from "../../src/core/wire/packet.js";
import {
  decodeFrames,
  encodeCloseFrame,
  encodeHandshakeFrame,
  FrameType,
  writeAckFrame,
  writeControlFrame,
  writeDataFrame,
  type AckFrame,
} from "../../src/core/wire/frames.js";
import { ChecksumProtection } from "../../src/core/wire/protection.js";
import { randomBytes } from "node:crypto";
import { crc32c, crc32cPortable } from "../../src/core/wire/crc32c.js";
import { nativeChecksum } from "../../src/native/addon.js";
import { decodeControl, encodeControl } from "../../src/core/transfer/messages.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("varints round-trip at every length boundary", () => {
  const values = [0, 1, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
  for (const v of values) {
    const buf = new Uint8Array(8);
    const end = writeVarint(buf, 0, v);
    assert.equal(end, varintSize(v));
    const r = new Reader(buf, 0, end);
    assert.equal(r.varint(), v);
    assert.equal(r.remaining, 0);
  }
});

test("CRC-32C matches the standard check value, native and portable alike, on any range", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32c(check), 0xe3069283);
  assert.equal(crc32cPortable(check), 0xe3069283);
  assert.notEqual(nativeChecksum, null, "the native addon is built in this repository's CI");
  const data = randomBytes(3000);
  for (const [start, end] of [
    [0, 0],
    [0, 1],
    [3, 10],
    [1, 1400],
    [7, 2999],
    [0, 3000],
  ] as const) {
    assert.equal(crc32c(data, start, end), crc32cPortable(data, start, end), `[${start}, ${end})`);
  }
  assert.throws(() => nativeChecksum!.crc32c(data, 10, 5), /start <= end/);
  assert.throws(() => nativeChecksum!.crc32c(data, 0, 3001), /buf.length/);
});

test("header round-trips with 48-bit packet numbers", () => {
  const buf = new Uint8Array(HEADER_SIZE);
  const h = {
    version: 1,
    type: PacketType.Established,
    sessionId: "0123456789abcdef",
    packetNumber: 2 ** 47 + 99,
  };
  writeHeader(buf, h);
  const parsed = parseHeader(buf);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.header, h);
});

test("unknown versions, unknown types and short datagrams are rejected by the header parser", () => {
  const buf = new Uint8Array(HEADER_SIZE);
  writeHeader(buf, { version: 1, type: PacketType.Initial, sessionId: "00".repeat(8), packetNumber: 0 });
  assert.deepEqual(parseHeader(buf.subarray(0, 10)), { ok: false, reason: "truncated" });
  buf[0] = 9;
  assert.deepEqual(parseHeader(buf), { ok: false, reason: "version" });
  buf[0] = 1;
  buf[1] = 77;
  assert.deepEqual(parseHeader(buf), { ok: false, reason: "type" });
});

test("every frame type round-trips", () => {
  const buf = new Uint8Array(2000);
  let pos = 0;
  const ack: Omit<AckFrame, "type"> = {
    ackDelay: 1234,
    ranges: [
      [100, 120],
      [50, 90],
      [0, 10],
    ],
    receiveWindow: 1 << 26,
    rateCap: 125_000,
  };
  pos = writeAckFrame(buf, pos, ack);
  const payload = new Uint8Array([1, 2, 3, 4, 5]);
  pos = writeDataFrame(buf, pos, { transfer: 3, file: 70000, offset: 2 ** 40, data: payload });
  pos = writeControlFrame(buf, pos, 99, new Uint8Array([9, 8]));
  buf[pos++] = FrameType.Ping;
  const close = encodeCloseFrame("TIMEOUT", "no reply");
  buf.set(close, pos);
  pos += close.length;
  const hs = encodeHandshakeFrame(new Uint8Array([7, 7, 7]));
  buf.set(hs, pos);
  pos += hs.length;
  const frames = decodeFrames(buf.subarray(0, pos));
  assert.deepEqual(frames[0], { type: FrameType.Ack, ...ack });
  assert.equal(frames[1]!.type, FrameType.Data);
  assert.deepEqual(
    frames[1]!.type === FrameType.Data && [
      frames[1]!.transfer,
      frames[1]!.file,
      frames[1]!.offset,
      [...frames[1]!.data],
    ],
    [3, 70000, 2 ** 40, [1, 2, 3, 4, 5]],
  );
  assert.deepEqual(frames[2]!.type === FrameType.Control && [frames[2]!.offset, [...frames[2]!.data]], [
    99,
    [9, 8],
  ]);
  assert.equal(frames[3]!.type, FrameType.Ping);
  assert.deepEqual(frames[4], { type: FrameType.Close, code: "TIMEOUT", reason: "no reply" });
  assert.deepEqual(frames[5]!.type === FrameType.Handshake && [...frames[5]!.data], [7, 7, 7]);
});

test("ACK ranges that would go below zero are malformed", () => {
  const buf = new Uint8Array(32);
  // largest 5, first range length-1 = 10 (> largest)
  let pos = 0;
  buf[pos++] = FrameType.Ack;
  pos = writeVarint(buf, pos, 5);
  pos = writeVarint(buf, pos, 0);
  pos = writeVarint(buf, pos, 0);
  pos = writeVarint(buf, pos, 10);
  pos = writeVarint(buf, pos, 0);
  pos = writeVarint(buf, pos, 0);
  assert.throws(() => decodeFrames(buf.subarray(0, pos)), DecodeError);
});

test("fuzz: random and truncated frame payloads only ever raise DecodeError", () => {
  const next = rng(42);
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(next() * 64);
    const bytes = Uint8Array.from({ length: len }, () => Math.floor(next() * 256));
    // Bias toward valid frame types so decoding goes deep.
    if (len > 0) bytes[0] = Math.floor(next() * 8);
    try {
      decodeFrames(bytes);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `unexpected ${String(e)}`);
    }
  }
});

test("fuzz: truncating a valid packet at every length is detected", () => {
  const buf = new Uint8Array(200);
  writeHeader(buf, { version: 1, type: PacketType.Established, sessionId: "ab".repeat(8), packetNumber: 7 });
  const end = writeDataFrame(buf, HEADER_SIZE, {
    transfer: 1,
    file: 2,
    offset: 3,
    data: new Uint8Array(100).fill(5),
  });
  const prot = new ChecksumProtection();
  const total = prot.seal(buf, HEADER_SIZE, end, 7);
  const full = buf.slice(0, total);
  assert.ok(prot.open(full, HEADER_SIZE, 7));
  for (let n = 0; n < total; n++)
    assert.equal(prot.open(full.slice(0, n), HEADER_SIZE, 7), null, `length ${n}`);
});

test("the checksum catches every single-bit corruption of a packet", () => {
  const buf = new Uint8Array(120);
  writeHeader(buf, { version: 1, type: PacketType.Established, sessionId: "cd".repeat(8), packetNumber: 1 });
  const prot = new ChecksumProtection();
  const total = prot.seal(buf, HEADER_SIZE, 100, 1);
  const good = buf.slice(0, total);
  for (let bit = 0; bit < total * 8; bit++) {
    const bad = good.slice();
    bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7));
    assert.equal(prot.open(bad, HEADER_SIZE, 1), null, `bit ${bit}`);
  }
});

test("control messages round-trip and malformed ones are refused", () => {
  const m = {
    t: "start" as const,
    n: 1,
    id: "0".repeat(32),
    blockSize: 1341,
    path: "in",
    overwrite: "always",
    files: [
      { p: "a/b.bin", s: 10, m: 5 },
      { p: "dir", s: 0, m: 1, d: 1 as const },
    ],
    more: false,
  };
  assert.deepEqual(decodeControl(encodeControl(m)), m);
  const bad = [
    "not json",
    "[]",
    '{"t":"start","n":1}',
    '{"t":"fileEnd","n":1,"f":0,"sha256":"xyz"}',
    '{"t":"accept","n":1,"have":[{"f":0,"r":[[5,2]]}],"done":[]}',
    '{"t":"nope","n":1}',
    '{"t":"fileOk","n":-1,"f":0}',
  ];
  for (const text of bad) assert.equal(decodeControl(new TextEncoder().encode(text)), null, text);
});
