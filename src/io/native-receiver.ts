import type dgram from "node:dgram";
import { getSystemErrorName } from "node:util";
import type { NativeReceiveHandle, NativeUdpReceive } from "../native/addon.js";
import type { UdpEndpoint } from "./udp-socket.js";

const META_WORDS = 8;
/** sources remembered for reuse: a server socket hears a few senders interleaved */
const RECENT_SOURCES = 8;

interface RecentSource {
  family: number;
  port: number;
  a0: number;
  a1: number;
  a2: number;
  a3: number;
  endpoint: UdpEndpoint;
}

/**
 * Receives a UDP socket's datagrams through the addon's recvmmsg/GRO loop instead of dgram's
 * 'message' events (one allocation and one callback per datagram): measured in
 * docs/benchmarks.md ("Native fast path"). Each datagram handed on is a view into its batch's
 * buffer, which no one else writes (in transient mode only until the batch ends: the next batch
 * overwrites it). Sources are decoded once and reused while they repeat.
 */
export class NativeReceiver {
  private readonly handle: NativeReceiveHandle;
  private readonly recent: RecentSource[] = [];
  private nextSlot = 0;

  private constructor(
    private readonly addon: NativeUdpReceive,
    fd: number,
    private readonly peer: UdpEndpoint | null,
    private readonly deliver: (data: Buffer, from: UdpEndpoint) => void,
    private readonly onError: (code: string) => void,
    private readonly onBatchEnd: (() => void) | null,
  ) {
    this.handle = addon.recvStart(fd, this.onBatch, onBatchEnd !== null);
  }

  /**
   * Takes over receiving on `socket` (whose descriptor is `fd`): stops dgram's own reads first.
   * Returns null, leaving dgram in charge, where that is not possible (no addon, or a Node whose
   * socket handle does not offer recvStop) or SLIPSTREAM_NATIVE_RECEIVE=0. With `transient`, every
   * batch reuses one buffer: a datagram's bytes are valid until `transient.onBatchEnd`, called
   * after each batch, returns.
   */
  static start(
    addon: NativeUdpReceive | null,
    socket: dgram.Socket,
    fd: number | null,
    peer: UdpEndpoint | null,
    deliver: (data: Buffer, from: UdpEndpoint) => void,
    onError: (code: string) => void,
    transient: { onBatchEnd: () => void } | null = null,
  ): NativeReceiver | null {
    const setting = process.env.SLIPSTREAM_NATIVE_RECEIVE;
    if (!addon || fd === null || setting === "0" || setting === "off" || setting === "false") return null;
    const handle = dgramHandle(socket);
    const recvStop = handle?.recvStop;
    if (typeof recvStop !== "function") return null;
    recvStop.call(handle);
    return new NativeReceiver(addon, fd, peer, deliver, onError, transient?.onBatchEnd ?? null);
  }

  stop(): void {
    this.addon.recvStop(this.handle);
  }

  private readonly onBatch = (buffer: ArrayBuffer | null, meta: Int32Array | null, count: number): void => {
    if (buffer === null || meta === null || count < 0) {
      this.onError(getSystemErrorName(count < 0 ? count : -5));
      return;
    }
    for (let i = 0; i < count; i++) {
      const o = i * META_WORDS;
      const data = Buffer.from(buffer, meta[o]!, meta[o + 1]!);
      this.deliver(data, this.peer ?? this.source(meta, o + 2));
    }
    this.onBatchEnd?.();
  };

  private source(meta: Int32Array, at: number): UdpEndpoint {
    const family = meta[at]!;
    const port = meta[at + 1]!;
    const [a0, a1, a2, a3] = [meta[at + 2]!, meta[at + 3]!, meta[at + 4]!, meta[at + 5]!];
    for (const s of this.recent) {
      if (
        s.port === port &&
        s.a0 === a0 &&
        s.a1 === a1 &&
        s.a2 === a2 &&
        s.a3 === a3 &&
        s.family === family
      ) {
        return s.endpoint;
      }
    }
    const endpoint = { address: this.addon.addressText(meta, at), port };
    const entry = { family, port, a0, a1, a2, a3, endpoint };
    if (this.recent.length < RECENT_SOURCES) this.recent.push(entry);
    else this.recent[this.nextSlot++ % RECENT_SOURCES] = entry;
    return endpoint;
  }
}

/** dgram's internal UDP handle (the same one socketFd reads the descriptor from). */
function dgramHandle(socket: dgram.Socket): { recvStop?: unknown } | null {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  if (!state) return null;
  const handle = (Reflect.get(socket, state) as { handle?: { recvStop?: unknown } } | undefined)?.handle;
  return handle ?? null;
}
