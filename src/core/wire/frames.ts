/**
 * Frames carried after the packet header. A packet holds one or more frames; all but ACK, CLOSE
 * and PADDING are ack-eliciting. See docs/protocol.md for the field-by-field description.
 */
import { DecodeError, Reader, varintSize, writeVarint } from "./varint.js";

export enum FrameType {
  Padding = 0x00,
  Ping = 0x01,
  Ack = 0x02,
  Data = 0x03,
  Control = 0x04,
  Close = 0x05,
  Handshake = 0x06,
}

export interface AckFrame {
  type: FrameType.Ack;
  /** microseconds between receiving the largest acknowledged packet and sending this ACK */
  ackDelay: number;
  /** received packet-number ranges [start, end), highest first, non-overlapping */
  ranges: Array<[number, number]>;
  /** bytes the receiver can still buffer for writing (flow control) */
  receiveWindow: number;
  /** bytes per second the receiver allows this sender; 0 = no cap */
  rateCap: number;
}

export interface DataFrame {
  type: FrameType.Data;
  /** session-local transfer number */
  transfer: number;
  file: number;
  offset: number;
  data: Uint8Array;
}

export interface ControlFrame {
  type: FrameType.Control;
  /** byte offset in the reliable control stream */
  offset: number;
  data: Uint8Array;
}

export interface CloseFrame {
  type: FrameType.Close;
  code: string;
  reason: string;
}

export type Frame =
  | { type: FrameType.Padding }
  | { type: FrameType.Ping }
  | AckFrame
  | DataFrame
  | ControlFrame
  | CloseFrame
  | { type: FrameType.Handshake; data: Uint8Array };

/** Most ACK ranges put in one frame; older ones are left out (the sender already learned them). */
export const MAX_ACK_RANGES = 64;
export const MAX_CLOSE_REASON = 512;

/** Upper bound of a DATA frame's header: type + 3 varints of up to 8 bytes + 2-byte length. */
export const MAX_DATA_FRAME_OVERHEAD = 1 + 8 + 8 + 8 + 2;
export const MAX_CONTROL_FRAME_OVERHEAD = 1 + 8 + 2;

export function dataFrameHeaderSize(transfer: number, file: number, offset: number, len: number): number {
  return 1 + varintSize(transfer) + varintSize(file) + varintSize(offset) + varintSize(len);
}

export function writeDataFrame(buf: Uint8Array, pos: number, f: Omit<DataFrame, "type">): number {
  buf[pos++] = FrameType.Data;
  pos = writeVarint(buf, pos, f.transfer);
  pos = writeVarint(buf, pos, f.file);
  pos = writeVarint(buf, pos, f.offset);
  pos = writeVarint(buf, pos, f.data.length);
  buf.set(f.data, pos);
  return pos + f.data.length;
}

export function writeControlFrame(buf: Uint8Array, pos: number, offset: number, data: Uint8Array): number {
  buf[pos++] = FrameType.Control;
  pos = writeVarint(buf, pos, offset);
  pos = writeVarint(buf, pos, data.length);
  buf.set(data, pos);
  return pos + data.length;
}

export function ackFrameSize(f: Omit<AckFrame, "type">): number {
  const ranges = f.ranges;
  let size = 1 + varintSize(ranges[0]![1] - 1) + varintSize(f.ackDelay) + varintSize(ranges.length - 1);
  size += varintSize(ranges[0]![1] - ranges[0]![0] - 1);
  for (let i = 1; i < ranges.length; i++) {
    size += varintSize(ranges[i - 1]![0] - ranges[i]![1] - 1) + varintSize(ranges[i]![1] - ranges[i]![0] - 1);
  }
  return size + varintSize(f.receiveWindow) + varintSize(f.rateCap);
}

/**
 * ACK layout (as RFC 9000 §19.3): largest acknowledged, ack delay, range count - 1, first range
 * length - 1, then per further range: gap - 1 (unacknowledged numbers between), length - 1;
 * then receive window and rate cap.
 */
export function writeAckFrame(buf: Uint8Array, pos: number, f: Omit<AckFrame, "type">): number {
  const r = f.ranges;
  buf[pos++] = FrameType.Ack;
  pos = writeVarint(buf, pos, r[0]![1] - 1);
  pos = writeVarint(buf, pos, Math.max(0, Math.round(f.ackDelay)));
  pos = writeVarint(buf, pos, r.length - 1);
  pos = writeVarint(buf, pos, r[0]![1] - r[0]![0] - 1);
  for (let i = 1; i < r.length; i++) {
    pos = writeVarint(buf, pos, r[i - 1]![0] - r[i]![1] - 1);
    pos = writeVarint(buf, pos, r[i]![1] - r[i]![0] - 1);
  }
  pos = writeVarint(buf, pos, f.receiveWindow);
  return writeVarint(buf, pos, f.rateCap);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeCloseFrame(code: string, reason: string): Uint8Array {
  const c = encoder.encode(code.slice(0, 64));
  const r = encoder.encode(reason.slice(0, MAX_CLOSE_REASON));
  const out = new Uint8Array(1 + varintSize(c.length) + c.length + varintSize(r.length) + r.length);
  let pos = 0;
  out[pos++] = FrameType.Close;
  pos = writeVarint(out, pos, c.length);
  out.set(c, pos);
  pos += c.length;
  pos = writeVarint(out, pos, r.length);
  out.set(r, pos);
  return out;
}

export function encodeHandshakeFrame(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(data.length) + data.length);
  const pos = writeVarint(out, 1, data.length);
  out[0] = FrameType.Handshake;
  out.set(data, pos);
  return out;
}

function utf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new DecodeError("invalid UTF-8");
  }
}

function decodeAck(r: Reader): AckFrame {
  const largest = r.varint();
  const ackDelay = r.varint();
  const extra = r.varint();
  if (extra + 1 > MAX_ACK_RANGES * 4) throw new DecodeError("too many ACK ranges");
  let first = r.varint();
  if (first > largest) throw new DecodeError("ACK range below zero");
  let end = largest + 1;
  let start = end - first - 1;
  const ranges: Array<[number, number]> = [[start, end]];
  for (let i = 0; i < extra; i++) {
    const gap = r.varint();
    const len = r.varint();
    end = start - gap - 1;
    start = end - len - 1;
    if (start < 0 || end <= 0) throw new DecodeError("ACK range below zero");
    ranges.push([start, end]);
    first = len;
  }
  const receiveWindow = r.varint();
  const rateCap = r.varint();
  return { type: FrameType.Ack, ackDelay, ranges, receiveWindow, rateCap };
}

/** Decodes every frame in `payload`; throws DecodeError on anything malformed. */
export function decodeFrames(payload: Uint8Array): Frame[] {
  const r = new Reader(payload);
  const frames: Frame[] = [];
  while (r.remaining > 0) {
    const type = r.u8();
    switch (type) {
      case FrameType.Padding:
        r.pos = r.end;
        break;
      case FrameType.Ping:
        frames.push({ type: FrameType.Ping });
        break;
      case FrameType.Ack:
        frames.push(decodeAck(r));
        break;
      case FrameType.Data: {
        const transfer = r.varint();
        const file = r.varint();
        const offset = r.varint();
        const len = r.varint();
        frames.push({ type: FrameType.Data, transfer, file, offset, data: r.bytes(len) });
        break;
      }
      case FrameType.Control: {
        const offset = r.varint();
        const len = r.varint();
        frames.push({ type: FrameType.Control, offset, data: r.bytes(len) });
        break;
      }
      case FrameType.Close: {
        const code = utf8(r.bytes(r.varint()));
        const reason = utf8(r.bytes(r.varint()));
        frames.push({ type: FrameType.Close, code, reason });
        break;
      }
      case FrameType.Handshake:
        frames.push({ type: FrameType.Handshake, data: r.bytes(r.varint()) });
        break;
      default:
        throw new DecodeError(`unknown frame type 0x${type.toString(16)}`);
    }
  }
  return frames;
}

export function isAckEliciting(frame: Frame): boolean {
  return frame.type !== FrameType.Ack && frame.type !== FrameType.Close && frame.type !== FrameType.Padding;
}
