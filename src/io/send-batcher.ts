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

/** Where a datagram goes: an IP literal and port, or null for a connected socket's peer. */
export interface BatchDestination {
  address: string;
  port: number;
}

/**
 * Collects the datagrams a socket is given during one event-loop turn and hands them to the
 * kernel in as few system calls as possible: runs of equal-sized datagrams to one destination as
 * one UDP GSO send (the kernel splits them), the rest through sendmmsg. dgram makes one system
 * call and one request object per datagram, which is where a loopback sender spent most of its
 * time (docs/benchmarks.md, "Native fast path"). What the kernel cannot take now (EAGAIN) goes
 * to dgram, whose libuv queue waits for the socket to become writable; once that queue holds
 * anything, everything goes through it so datagrams keep their order.
 */
export class SendBatcher {
  private datagrams: Uint8Array[] = [];
  private destinations: (BatchDestination | null)[] = [];
  /** per datagram: its memory is reused by the caller after the next flush (copy it if it must wait) */
  private transient: boolean[] = [];
  private scheduled = false;
  private gso: boolean;

  constructor(
    private readonly native: NativeUdp,
    private readonly fd: number,
    private readonly socket: dgram.Socket,
    private readonly counters: SendBatcherCounters,
    /** the unbatched path: dgram.send with the socket's own accounting */
    private readonly fallback: (datagram: Uint8Array, to: BatchDestination | null) => void,
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
    return this.datagrams.length;
  }

  /**
   * `to` must be an IP literal (no name lookup here); null for a connected socket. `transient`:
   * the caller reuses the datagram's memory once the batch has been flushed, so a datagram that has
   * to wait in dgram's queue instead is copied.
   */
  add(datagram: Uint8Array, to: BatchDestination | null = null, transient = false): void {
    this.datagrams.push(datagram);
    this.destinations.push(to);
    this.transient.push(transient);
    if (this.datagrams.length >= MAX_MMSG) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not a microtask: datagrams from every callback of this poll phase share a batch
      setImmediate(() => this.flush());
    }
  }

  /** Sends everything pending now. */
  flush(): void {
    this.scheduled = false;
    const batch = this.datagrams;
    const to = this.destinations;
    const transient = this.transient;
    if (batch.length === 0) return;
    this.datagrams = [];
    this.destinations = [];
    this.transient = [];
    let i = 0;
    while (i < batch.length) {
      if (this.socket.getSendQueueCount() > 0) break; // libuv holds older datagrams: keep the order
      const sameTo = sameDestinationRun(to, i);
      const run = this.gso ? equalSizeRun(batch, i, sameTo) : 1;
      const dest = to[i] ?? null;
      let sent: number;
      try {
        if (run >= 2) {
          sent = dest
            ? this.native.sendSegments(this.fd, batch, i, run, dest.address, dest.port)
            : this.native.sendSegments(this.fd, batch, i, run);
          if (sent < 0 && NO_GSO.has(errnoName(sent))) {
            this.gso = false; // and retry the same datagrams through sendmmsg
            continue;
          }
          if (sent > 0) this.counters.gsoDatagrams += sent;
        } else {
          const count = Math.min(MAX_MMSG, sameTo);
          sent = dest
            ? this.native.sendBatch(this.fd, batch, i, count, dest.address, dest.port)
            : this.native.sendBatch(this.fd, batch, i, count);
        }
      } catch {
        break; // an argument the addon refused (it validates everything): dgram takes the rest
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
    for (; i < batch.length; i++) {
      const datagram = batch[i]!;
      this.fallback(transient[i] ? Uint8Array.prototype.slice.call(datagram) : datagram, to[i] ?? null);
    }
  }
}

/** how many datagrams from `start` go to the same destination */
function sameDestinationRun(to: readonly (BatchDestination | null)[], start: number): number {
  const first = to[start] ?? null;
  let n = 1;
  while (start + n < to.length) {
    const next = to[start + n] ?? null;
    if (
      first === null
        ? next !== null
        : next === null || next.port !== first.port || next.address !== first.address
    )
      break;
    n++;
  }
  return n;
}

/** how many datagrams from `start` fit one GSO send: same size as the first, the last may be shorter */
function equalSizeRun(batch: readonly Uint8Array[], start: number, available: number): number {
  const size = batch[start]!.byteLength;
  const limit = Math.min(MAX_GSO_SEGMENTS, Math.floor(MAX_GSO_BYTES / Math.max(size, 1)), available);
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
