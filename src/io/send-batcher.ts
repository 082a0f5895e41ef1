import type dgram from "node:dgram";
import { constants } from "node:os";
import type { NativeUdp } from "../native/addon.js";

const MAX_GSO_BYTES = 65_000;
const MAX_GSO_SEGMENTS = 64;
const MAX_MMSG = 256;
/** errnos that mean "this socket or route has no UDP GSO" (no checksum offload, old kernel, …) */
const NO_GSO = new Set(["EIO", "EINVAL", "ENOPROTOOPT", "EOPNOTSUPP"]);
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

export interface SendBatcherCounters {
  /** system calls made for batches (sendmmsg or one GSO sendmsg each) */
  batchSyscalls: number;
  /** datagrams that went out in a GSO send */
  gsoDatagrams: number;
}

/**
 * Collects the datagrams a connected socket is given during one event-loop turn and hands them to
 * the kernel in as few system calls as possible: runs of equal-sized datagrams as one UDP GSO
 * send (the kernel splits them), the rest through sendmmsg. dgram makes one system call and one
 * request object per datagram, which is where a loopback sender spends most of its time
 * (docs/benchmarks.md, "Native fast path"). What the kernel cannot take now (EAGAIN) goes to
 * dgram, whose libuv queue waits for the socket to become writable; once that queue holds
 * anything, everything goes through it so datagrams keep their order.
 */
export class SendBatcher {
  private pending: Uint8Array[] = [];
  private scheduled = false;
  private gso: boolean;

  constructor(
    private readonly native: NativeUdp,
    private readonly fd: number,
    private readonly socket: dgram.Socket,
    private readonly counters: SendBatcherCounters,
    /** the unbatched path: dgram.send with the socket's own accounting */
    private readonly fallback: (datagram: Uint8Array) => void,
    /** a kernel error for a datagram that was dropped */
    private readonly onError: (code: string) => void,
    useGso = process.env.SLIPSTREAM_UDP_GSO !== "0",
  ) {
    this.gso = useGso;
  }

  get gsoEnabled(): boolean {
    return this.gso;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  add(datagram: Uint8Array): void {
    this.pending.push(datagram);
    if (this.pending.length >= MAX_MMSG) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not a microtask: datagrams from every callback of this poll phase share a batch
      setImmediate(() => this.flush());
    }
  }

  /** Sends everything pending now. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let i = 0;
    while (i < batch.length) {
      if (this.socket.getSendQueueCount() > 0) break; // libuv holds older datagrams: keep the order
      const run = this.gso ? equalSizeRun(batch, i) : 1;
      let sent: number;
      if (run >= 2) {
        sent = this.native.sendSegments(this.fd, batch, i, run);
        if (sent < 0 && NO_GSO.has(errnoName(sent))) {
          this.gso = false; // and retry the same datagrams through sendmmsg
          continue;
        }
        if (sent > 0) this.counters.gsoDatagrams += sent;
      } else {
        sent = this.native.sendBatch(this.fd, batch, i, Math.min(MAX_MMSG, batch.length - i));
      }
      this.counters.batchSyscalls++;
      if (sent === 0) break; // kernel buffer full
      if (sent > 0) {
        i += sent;
      } else {
        this.onError(errnoName(sent));
        i += run >= 2 ? run : 1; // the failed datagram(s) are dropped; the protocol resends
      }
    }
    for (; i < batch.length; i++) this.fallback(batch[i]!);
  }
}

/** how many datagrams from `start` fit one GSO send: same size as the first, the last may be shorter */
function equalSizeRun(batch: readonly Uint8Array[], start: number): number {
  const size = batch[start]!.byteLength;
  const limit = Math.min(
    MAX_GSO_SEGMENTS,
    Math.floor(MAX_GSO_BYTES / Math.max(size, 1)),
    batch.length - start,
  );
  let n = 1;
  while (n < limit) {
    const next = batch[start + n]!.byteLength;
    if (next > size || next === 0) break;
    n++;
    if (next < size) break;
  }
  return n;
}

function errnoName(negative: number): string {
  return ERRNO_NAMES.get(-negative) ?? `errno ${-negative}`;
}

/**
 * The file descriptor behind a dgram socket (Linux). dgram keeps its handle under a symbol; the
 * public `_handle` accessor is deprecated and prints a warning. Null when it cannot be found.
 */
export function socketFd(socket: dgram.Socket): number | null {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  if (!state) return null;
  const handle = (Reflect.get(socket, state) as { handle?: { fd?: unknown } } | undefined)?.handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : null;
}
