/**
 * Protection of a relay control connection after the attach handshake. From the `welcome` on,
 * every frame in both directions (JSON messages and tunnelled envelopes alike) is
 *
 *   0xE4 ‖ ChaCha20-Poly1305(key of its direction, nonce = the frame's number in that direction,
 *                            associated data = the 0xE4 byte, plaintext = the frame as it was)
 *
 * with both keys from the attach key K (HKDF-SHA256, info "slipstream relay control " + direction).
 * TCP delivers frames in order, so the numbers are implicit: a frame that was injected, altered,
 * dropped or replayed does not open, and the connection is closed. Only the holders of K (the
 * relay's and the server's private keys) can read or write the connection after the handshake.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";

export const CONTROL_SEALED = 0xe4;
const TAG_BYTES = 16;

/** the sealed-frame overhead: marker byte and tag */
export const CONTROL_SEAL_OVERHEAD = 1 + TAG_BYTES;

type Direction = "relay->inner" | "inner->relay";

function directionKey(attachKey: Uint8Array, direction: Direction): Buffer {
  const info = Buffer.from(`slipstream relay control ${direction}`, "latin1");
  return Buffer.from(hkdfSync("sha256", attachKey, new Uint8Array(0), info, 32));
}

function nonce(counter: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUIntBE(counter, 6, 6);
  return out;
}

export class ControlSeal {
  private sent = 0;
  private received = 0;

  private constructor(
    private readonly sendKey: Buffer,
    private readonly receiveKey: Buffer,
  ) {}

  /** The seal of one end: `role` is the end that holds it. */
  static fromAttachKey(attachKey: Uint8Array, role: "relay" | "inner"): ControlSeal {
    const toInner = directionKey(attachKey, "relay->inner");
    const toRelay = directionKey(attachKey, "inner->relay");
    return role === "relay" ? new ControlSeal(toInner, toRelay) : new ControlSeal(toRelay, toInner);
  }

  /** The sealed frame body for `plain` (a JSON message or an envelope), to be length-prefixed. */
  seal(plain: Uint8Array): Buffer {
    const marker = Buffer.of(CONTROL_SEALED);
    const c = createCipheriv("chacha20-poly1305", this.sendKey, nonce(this.sent++), {
      authTagLength: TAG_BYTES,
    });
    c.setAAD(marker, { plaintextLength: plain.byteLength });
    const body = c.update(plain);
    c.final();
    return Buffer.concat([marker, body, c.getAuthTag()]);
  }

  /** The frame's plaintext, or null when it is not the next authentic frame from the other end. */
  open(frame: Uint8Array): Buffer | null {
    if (frame.byteLength < CONTROL_SEAL_OVERHEAD || frame[0] !== CONTROL_SEALED) return null;
    const end = frame.byteLength - TAG_BYTES;
    try {
      const d = createDecipheriv("chacha20-poly1305", this.receiveKey, nonce(this.received), {
        authTagLength: TAG_BYTES,
      });
      d.setAAD(frame.subarray(0, 1), { plaintextLength: end - 1 });
      d.setAuthTag(frame.subarray(end));
      const plain = d.update(frame.subarray(1, end));
      d.final();
      this.received++;
      return plain;
    } catch {
      return null;
    }
  }
}
