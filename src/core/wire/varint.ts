/**
 * QUIC-style variable-length integers (RFC 9000 §16): the two high bits of the first byte give
 * the length (1, 2, 4 or 8 bytes). Values are JavaScript numbers, so at most 2^53 - 1.
 */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;

export function varintSize(value: number): number {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

/** Writes `value` at `pos`; returns the position after it. The caller guarantees room. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  if (value < 0x40) {
    buf[pos] = value;
    return pos + 1;
  }
  if (value < 0x4000) {
    buf[pos] = 0x40 | (value >>> 8);
    buf[pos + 1] = value & 0xff;
    return pos + 2;
  }
  if (value < 0x40000000) {
    buf[pos] = 0x80 | (value >>> 24);
    buf[pos + 1] = (value >>> 16) & 0xff;
    buf[pos + 2] = (value >>> 8) & 0xff;
    buf[pos + 3] = value & 0xff;
    return pos + 4;
  }
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
  const hi = Math.floor(value / 0x100000000);
  const lo = value >>> 0;
  buf[pos] = 0xc0 | (hi >>> 24);
  buf[pos + 1] = (hi >>> 16) & 0xff;
  buf[pos + 2] = (hi >>> 8) & 0xff;
  buf[pos + 3] = hi & 0xff;
  buf[pos + 4] = lo >>> 24;
  buf[pos + 5] = (lo >>> 16) & 0xff;
  buf[pos + 6] = (lo >>> 8) & 0xff;
  buf[pos + 7] = lo & 0xff;
  return pos + 8;
}

/** Sequential reader over a datagram; every read checks bounds and throws DecodeError. */
export class DecodeError extends Error {}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw new DecodeError("truncated");
    return this.buf[this.pos++]!;
  }

  varint(): number {
    if (this.pos >= this.end) throw new DecodeError("truncated varint");
    const first = this.buf[this.pos]!;
    const len = 1 << (first >>> 6);
    if (this.pos + len > this.end) throw new DecodeError("truncated varint");
    let value = first & 0x3f;
    for (let i = 1; i < len; i++) value = value * 256 + this.buf[this.pos + i]!;
    if (value > MAX_VARINT) throw new DecodeError("varint beyond 2^53");
    this.pos += len;
    return value;
  }

  bytes(len: number): Uint8Array {
    if (len < 0 || this.pos + len > this.end) throw new DecodeError("truncated bytes");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
}
