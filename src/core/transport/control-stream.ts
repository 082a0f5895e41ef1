/**
 * The reliable, ordered control stream each direction of a session carries (transfer requests,
 * file hashes, verdicts). Messages are length-prefixed; lost stream ranges are sent again in new
 * packets, as data blocks are.
 */
import { RangeSet } from "../util/range-set.js";

export const MAX_CONTROL_MESSAGE = 4 * 1024 * 1024;
const MAX_OUT_OF_ORDER = 8 * 1024 * 1024;

export class ControlSendStream {
  private buf = new Uint8Array(4096);
  /** stream offset of buf[0] */
  private base = 0;
  private length = 0;
  private sent = 0;
  private readonly lost = new RangeSet();
  private readonly acked = new RangeSet();
  /** stream bytes whose writer asked for a second copy, not yet sent the first time */
  private readonly repeatWanted = new RangeSet();

  /** `repeat`: the message should go out twice (see Connection.sendControl). */
  write(message: Uint8Array, repeat = false): void {
    const start = this.base + this.length;
    if (repeat) this.repeatWanted.add(start, start + 4 + message.length);
    const need = this.length + 4 + message.length;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.max(need, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    const n = message.length;
    this.buf[this.length] = n >>> 24;
    this.buf[this.length + 1] = (n >>> 16) & 0xff;
    this.buf[this.length + 2] = (n >>> 8) & 0xff;
    this.buf[this.length + 3] = n & 0xff;
    this.buf.set(message, this.length + 4);
    this.length += 4 + n;
  }

  hasPending(): boolean {
    return this.lost.size > 0 || this.sent < this.base + this.length;
  }

  /**
   * Next chunk to send, lost ranges first: [offset, bytes, whether it is the first transmission of
   * bytes that asked for a repeat], or null.
   */
  next(maxLen: number): [number, Uint8Array, boolean] | null {
    const lost = this.lost[Symbol.iterator]().next();
    if (!lost.done) {
      const start = lost.value[0];
      const end = Math.min(lost.value[1], start + maxLen);
      this.lost.remove(start, end);
      return [start, this.buf.slice(start - this.base, end - this.base), false];
    }
    const end = Math.min(this.base + this.length, this.sent + maxLen);
    if (end <= this.sent) return null;
    const start = this.sent;
    this.sent = end;
    let repeat = false;
    for (const [s, e] of this.repeatWanted) {
      if (s >= end) break;
      if (e > start) repeat = true;
    }
    this.repeatWanted.removeBelow(end);
    return [start, this.buf.slice(start - this.base, end - this.base), repeat];
  }

  /** Sends [offset, offset + len) again unless it has been acknowledged meanwhile. */
  repeat(offset: number, len: number): void {
    const start = Math.max(offset, this.base);
    if (offset + len > start) this.onLost(start, offset + len - start);
  }

  onAcked(offset: number, len: number): void {
    this.acked.add(offset, offset + len);
    this.lost.remove(offset, offset + len);
    const first = this.acked[Symbol.iterator]().next();
    if (first.done || first.value[0] > this.base) return;
    const frontier = Math.min(first.value[1], this.base + this.length);
    const drop = frontier - this.base;
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.length);
    this.length -= drop;
    this.base = frontier;
    this.acked.removeBelow(frontier);
    this.lost.removeBelow(frontier);
  }

  /**
   * Sends every range still unacknowledged again (a probe timeout): stream data is what the peer
   * needs before anything else makes sense to it (a transfer announcement, say), and the data
   * packets that follow it may be ones the peer cannot acknowledge without it.
   */
  resendUnacked(): void {
    if (this.sent > this.base) this.onLost(this.base, this.sent - this.base);
  }

  onLost(offset: number, len: number): void {
    const end = offset + len;
    // Only the parts not acknowledged since are sent again.
    let cursor = offset;
    for (const [s, e] of this.acked) {
      if (e <= cursor) continue;
      if (s >= end) break;
      if (s > cursor) this.lost.add(cursor, s);
      cursor = Math.max(cursor, e);
    }
    if (cursor < end) this.lost.add(Math.max(cursor, this.base), end);
  }
}

export class ProtocolViolation extends Error {}

export class ControlRecvStream {
  private delivered = 0;
  private pending = new Map<number, Uint8Array>();
  private pendingBytes = 0;
  private parts: Uint8Array[] = [];
  private partsLength = 0;

  /** Accepts a chunk; returns the complete messages that became available. */
  onChunk(offset: number, data: Uint8Array): Uint8Array[] {
    if (offset + data.length <= this.delivered) return [];
    if (offset > this.delivered) {
      if (!this.pending.has(offset) && this.pendingBytes + data.length <= MAX_OUT_OF_ORDER) {
        this.pending.set(offset, data.slice());
        this.pendingBytes += data.length;
      }
      return [];
    }
    this.append(data.subarray(this.delivered - offset));
    let progressed = true;
    while (progressed && this.pending.size > 0) {
      progressed = false;
      for (const [off, chunk] of this.pending) {
        if (off > this.delivered) continue;
        this.pending.delete(off);
        this.pendingBytes -= chunk.length;
        if (off + chunk.length > this.delivered) this.append(chunk.subarray(this.delivered - off));
        progressed = true;
      }
    }
    return this.extractMessages();
  }

  private append(bytes: Uint8Array): void {
    this.parts.push(bytes.slice());
    this.partsLength += bytes.length;
    this.delivered += bytes.length;
  }

  private flatten(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const all = new Uint8Array(this.partsLength);
    let pos = 0;
    for (const p of this.parts) {
      all.set(p, pos);
      pos += p.length;
    }
    this.parts = [all];
    return all;
  }

  private extractMessages(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.partsLength >= 4) {
      const head = this.parts[0]!.length >= 4 ? this.parts[0]! : this.flatten();
      const n = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
      if (n > MAX_CONTROL_MESSAGE) throw new ProtocolViolation(`control message of ${n} bytes`);
      if (this.partsLength < 4 + n) break;
      const a = this.flatten();
      out.push(a.slice(4, 4 + n));
      const rest = a.subarray(4 + n);
      this.parts = rest.length > 0 ? [rest] : [];
      this.partsLength = rest.length;
    }
    return out;
  }
}
