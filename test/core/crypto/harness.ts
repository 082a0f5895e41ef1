/**
 * A sender and a receiver endpoint wired back to back in virtual time, with a filter on each
 * direction (drop, alter, inject), and a small in-memory file to transfer.
 */
import { SenderEndpoint, type SenderEvent } from "../../../src/core/endpoint/sender.js";
import { ReceiverEndpoint, type ReceiverEvent } from "../../../src/core/endpoint/receiver.js";
import { DEFAULT_CONNECTION_CONFIG } from "../../../src/core/transport/connection.js";
import type { InitiatorSecurity, ResponderSecurity } from "../../../src/core/crypto/security.js";
import type { Micros } from "../../../src/core/time.js";

export type Filter = (datagram: Uint8Array) => Uint8Array[];
const pass: Filter = (d) => [d];

export const TRANSFER = "7e57000000000000000000000000000a";
const SENDER_ADDRESS = "10.0.0.1:5000";

let idCounter = 1;

export class Harness {
  now: Micros = 0;
  readonly sender: SenderEndpoint;
  receiver: ReceiverEndpoint;
  readonly senderEvents: SenderEvent[] = [];
  readonly receiverEvents: ReceiverEvent[] = [];
  readonly written = new Map<number, Uint8Array>();
  toReceiver: Filter = pass;
  toSender: Filter = pass;
  /** Initials the sender put on the wire */
  initialsSent = 0;

  constructor(
    senderSecurity: InitiatorSecurity | undefined,
    receiverSecurity: ResponderSecurity | undefined,
    readonly content: Uint8Array = new Uint8Array(0),
  ) {
    const config = {
      ...DEFAULT_CONNECTION_CONFIG,
      pacerMaxBurst: 0,
      windowRttFloor: 0,
      peerTimeout: 10_000_000,
    };
    this.sender = new SenderEndpoint({
      config: { ...config },
      local: { serverId: "a".repeat(32), serverUid: "b".repeat(32) },
      randomBytes: (n) => Uint8Array.from({ length: n }, (_, i) => (idCounter * 31 + i) & 0xff),
      security: senderSecurity,
      reconnectInitial: 500_000,
    });
    idCounter++;
    this.receiver = this.makeReceiver(receiverSecurity);
  }

  makeReceiver(security: ResponderSecurity | undefined): ReceiverEndpoint {
    return new ReceiverEndpoint({
      config: { ...DEFAULT_CONNECTION_CONFIG, pacerMaxBurst: 0, windowRttFloor: 0 },
      local: { serverId: "c".repeat(32), serverUid: "d".repeat(32) },
      security,
    });
  }

  addTransfer(): void {
    this.sender.addTransfer(this.now, {
      id: TRANSFER,
      destinationPath: "",
      overwrite: "always",
      files: [{ path: "f.bin", size: this.content.length, mtime: 1 }],
    });
  }

  /** Runs until `until` (virtual µs) or until `stop` holds. */
  run(until: Micros, stop: () => boolean = () => false): void {
    for (let guard = 0; guard < 1_000_000 && this.now <= until && !stop(); guard++) {
      let moved = false;
      for (let d = this.sender.pollTransmit(this.now); d; d = this.sender.pollTransmit(this.now)) {
        moved = true;
        if (d[1] === 1) this.initialsSent++;
        for (const x of this.toReceiver(d)) this.receiver.handleDatagram(this.now, x, SENDER_ADDRESS);
      }
      for (let o = this.receiver.pollTransmit(this.now); o; o = this.receiver.pollTransmit(this.now)) {
        moved = true;
        for (const x of this.toSender(o.datagram)) this.sender.handleDatagram(this.now, x);
      }
      moved = this.events() || moved;
      if (moved) continue;
      const t = [this.sender.pollTimeout(), this.receiver.pollTimeout()].filter(
        (x): x is number => x !== null,
      );
      const next = Math.max(this.now + 1, Math.min(...t, until + 1));
      this.now = next;
      this.sender.handleTimeout(this.now);
      this.receiver.handleTimeout(this.now);
    }
  }

  private events(): boolean {
    let any = false;
    for (let e = this.sender.pollEvent(); e; e = this.sender.pollEvent()) {
      any = true;
      this.senderEvents.push(e);
      if (e.type === "read") {
        this.sender.provideRead(
          e.transfer,
          e.file,
          e.offset,
          this.content.subarray(e.offset, e.offset + e.length),
        );
      }
    }
    for (let e = this.receiver.pollEvent(); e; e = this.receiver.pollEvent()) {
      any = true;
      this.receiverEvents.push(e);
      if (e.type === "transferRequest") this.receiver.acceptTransfer(e.transfer.id);
      else if (e.type === "write") {
        this.written.set(e.offset, Uint8Array.from(e.data));
        this.receiver.writeDone(e.data.length);
      } else if (e.type === "fileReceived") this.receiver.fileVerified(e.transfer, e.file, true);
    }
    return any;
  }

  receivedContent(): Buffer {
    const out = Buffer.alloc(this.content.length);
    for (const [offset, data] of this.written) out.set(data, offset);
    return out;
  }

  transferDone(): boolean {
    return this.senderEvents.some((e) => e.type === "transferComplete" || e.type === "transferFailed");
  }

  rejected(): Array<{ code: string; message: string }> {
    return this.receiverEvents.flatMap((e) => (e.type === "sessionRejected" ? [e] : []));
  }
}
