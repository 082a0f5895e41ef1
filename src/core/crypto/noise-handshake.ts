/**
 * The authenticated handshake: Noise IK when the initiator knows the responder's key, Noise IX
 * (trust on first use) when it does not; both are one round trip, so they fit the transport's
 * Initial/Handshake exchange and its retransmission (docs/protocol.md, "Handshake").
 *
 *   IK   <- s                                IX
 *        ...
 *        -> e, es, s, ss   + payload         -> e, s            + payload (cleartext)
 *        <- e, ee, se      + payload         <- e, ee, se, s, es + payload
 *
 * Message 1 starts with a pattern byte (and, for IK, an 8-byte hint of the key it expects, so a
 * responder with another key can say KEY_MISMATCH). Anything that does not authenticate is
 * dropped with `drop: true`: the state stays as it was and the real message can still arrive.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  PlainHandshakeResponder,
  type HandshakeFailure,
  type HandshakeInitiator,
  type HandshakeOutcome,
  type HandshakeResponder,
  type LocalIdentity,
} from "../transport/handshake.js";
import { ChecksumProtection, type PacketProtection } from "../wire/protection.js";
import { SUPPORTED_VERSIONS, sessionIdBytes } from "../wire/packet.js";
import { AeadProtection, DEFAULT_KEY_ROTATION_PACKETS, MIN_KEY_ROTATION_PACKETS } from "./aead-protection.js";
import { chooseCipher, DEFAULT_MIN_CIPHER, offersFor, type CipherName } from "./ciphers.js";
import {
  encodePayload,
  parseHelloPayload,
  parseReplyPayload,
  type HelloPayload,
  type ReplyPayload,
} from "./handshake-payload.js";
import { dh, encodePublicKey, KEY_SIZE, keysEqual, privateKeyObject, rawPublicKey } from "./keys.js";
import { sha256, SymmetricState } from "./noise.js";
import type { InitiatorSecurity, Refusal, ResponderSecurity } from "./security.js";

export const PATTERN_IK = 0x01;
export const PATTERN_IX = 0x02;
const HINT_SIZE = 8;
const TAG = 16;
const PROTOCOL_IK = "Noise_IK_25519_ChaChaPoly_SHA256";
const PROTOCOL_IX = "Noise_IX_25519_ChaChaPoly_SHA256";
const PROLOGUE = new TextEncoder().encode("slipstream handshake 1");

/** 8 bytes naming a responder key, so a mismatch is reported instead of looking like noise */
export function keyHint(publicKey: Uint8Array): Uint8Array {
  return sha256(new TextEncoder().encode("slipstream key hint"), publicKey).subarray(0, HINT_SIZE);
}

function prologue(sessionId: string, header: Uint8Array): Uint8Array {
  return Uint8Array.from([...PROLOGUE, ...sessionIdBytes(sessionId), ...header]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function drop(message: string): HandshakeFailure {
  return { error: "PROTOCOL", message, drop: true };
}

function protectionFor(
  cipher: CipherName,
  send: Uint8Array,
  recv: Uint8Array,
  rotationPackets: number,
): PacketProtection {
  return cipher === "none"
    ? new ChecksumProtection()
    : new AeadProtection(cipher, send, recv, rotationPackets);
}

function ephemeral(): { key: KeyObject; pub: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return { key: privateKey, pub: rawPublicKey(publicKey) };
}

function rotationOf(x: number | undefined): number {
  const r = x ?? DEFAULT_KEY_ROTATION_PACKETS;
  if (!Number.isSafeInteger(r) || r < MIN_KEY_ROTATION_PACKETS)
    throw new Error(`keyRotationPackets must be an integer >= ${MIN_KEY_ROTATION_PACKETS}`);
  return r;
}

export class NoiseInitiator implements HandshakeInitiator {
  private readonly message: Uint8Array;
  /** state after message 1 */
  private readonly state: SymmetricState;
  private readonly e: KeyObject;
  private readonly s: KeyObject;
  private readonly pinned: Uint8Array | null;
  private readonly offers: CipherName[];
  private readonly rotation: number;

  constructor(
    security: InitiatorSecurity,
    local: LocalIdentity,
    private readonly datagramSize: number,
    sessionId: string,
  ) {
    this.s = privateKeyObject(security.keyPair.privateKey);
    this.pinned = security.peerPublicKey ?? null;
    if (this.pinned && this.pinned.length !== KEY_SIZE) throw new Error("peerPublicKey must have 32 bytes");
    this.offers = offersFor(security);
    this.rotation = rotationOf(security.keyRotationPackets);
    const e = ephemeral();
    this.e = e.key;
    const payload = encodePayload({
      v: [...SUPPORTED_VERSIONS],
      id: local.serverId,
      uid: local.serverUid,
      d: datagramSize,
      c: this.offers,
      r: this.rotation,
    } satisfies HelloPayload);
    if (this.pinned) {
      const header = concat(Uint8Array.of(PATTERN_IK), keyHint(this.pinned));
      const st = SymmetricState.initialize(PROTOCOL_IK, prologue(sessionId, header));
      st.mixHash(this.pinned);
      st.mixHash(e.pub);
      st.mixKey(this.mustDh(this.e, this.pinned));
      const encryptedStatic = st.encryptAndHash(security.keyPair.publicKey);
      st.mixKey(this.mustDh(this.s, this.pinned));
      this.message = concat(header, e.pub, encryptedStatic, st.encryptAndHash(payload));
      this.state = st;
    } else {
      const header = Uint8Array.of(PATTERN_IX);
      const st = SymmetricState.initialize(PROTOCOL_IX, prologue(sessionId, header));
      st.mixHash(e.pub);
      st.mixHash(security.keyPair.publicKey);
      this.message = concat(header, e.pub, security.keyPair.publicKey, st.encryptAndHash(payload));
      this.state = st;
    }
  }

  private mustDh(key: KeyObject, peer: Uint8Array): Uint8Array {
    const out = dh(key, peer);
    if (!out) throw new Error("the pinned peer key is not a usable X25519 public key");
    return out;
  }

  hello(): Uint8Array {
    return this.message;
  }

  onReply(data: Uint8Array): HandshakeOutcome | HandshakeFailure {
    const st = this.state.clone();
    const staticLen = this.pinned ? 0 : KEY_SIZE + TAG;
    if (data.length < KEY_SIZE + staticLen + TAG) return drop("handshake reply too short");
    const re = data.subarray(0, KEY_SIZE);
    st.mixHash(re);
    const ee = dh(this.e, re);
    const se = dh(this.s, re);
    if (!ee || !se) return drop("handshake reply with an unusable ephemeral key");
    st.mixKey(ee);
    st.mixKey(se);
    let rs = this.pinned;
    let pos = KEY_SIZE;
    if (!rs) {
      rs = st.decryptAndHash(data.subarray(pos, pos + staticLen));
      pos += staticLen;
      const es = rs ? dh(this.e, rs) : null;
      if (!rs || !es) return drop("handshake reply does not authenticate");
      st.mixKey(es);
    }
    const plain = st.decryptAndHash(data.subarray(pos));
    const reply = plain ? parseReplyPayload(plain) : null;
    if (!reply) return drop("handshake reply does not authenticate");
    // From here on the reply is authentic: failures are the receiver's verdict.
    if ("err" in reply) return { error: reply.err, message: `receiver refused: ${reply.msg}` };
    return this.outcome(st, reply, rs);
  }

  private outcome(
    st: SymmetricState,
    reply: Exclude<ReplyPayload, { err: string }>,
    responderKey: Uint8Array,
  ): HandshakeOutcome | HandshakeFailure {
    if (!SUPPORTED_VERSIONS.includes(reply.v))
      return { error: "VERSION_MISMATCH", message: `receiver chose unsupported version ${reply.v}` };
    if (!this.offers.includes(reply.c))
      return { error: "CIPHER_REJECTED", message: `receiver chose ${reply.c}, which was not offered` };
    if (reply.r > this.rotation || reply.r < MIN_KEY_ROTATION_PACKETS)
      return { error: "PROTOCOL", message: `receiver chose a key rotation interval of ${reply.r} packets` };
    const keys = st.split();
    return {
      peer: {
        serverId: reply.id,
        serverUid: reply.uid,
        protocolVersion: reply.v,
        publicKey: encodePublicKey(responderKey),
        cipher: reply.c,
        keyLearned: this.pinned === null,
      },
      protection: protectionFor(reply.c, keys.initiatorToResponder, keys.responderToInitiator, reply.r),
      datagramSize: Math.min(this.datagramSize, reply.d),
    };
  }
}

type ResponderResult = { reply: Uint8Array; outcome: HandshakeOutcome } | HandshakeFailure;

export class NoiseResponder implements HandshakeResponder {
  private readonly s: KeyObject;
  private readonly minCipher: CipherName;
  private readonly rotation: number;

  constructor(
    private readonly security: ResponderSecurity,
    private readonly local: LocalIdentity,
    private readonly datagramSize: number,
    private readonly sessionId: string,
  ) {
    // The pair was checked once, by the endpoint (assertKeyPair): this runs for every hello.
    this.s = privateKeyObject(security.keyPair.privateKey);
    this.minCipher = security.minCipher ?? DEFAULT_MIN_CIPHER;
    this.rotation = rotationOf(security.keyRotationPackets);
  }

  onHello(data: Uint8Array): ResponderResult {
    if (data.length === 0) return drop("empty handshake");
    if (data[0] === 0x7b) return this.plainHello(data);
    if (data[0] === PATTERN_IK) return this.onIk(data);
    if (data[0] === PATTERN_IX) return this.onIx(data);
    return drop("unknown handshake pattern");
  }

  /** A sender without keys: allowed only when this receiver accepts unencrypted sessions. */
  private plainHello(data: Uint8Array): ResponderResult {
    const result = new PlainHandshakeResponder(this.local, this.datagramSize).onHello(data);
    if ("error" in result && result.error === "PROTOCOL") return drop(result.message);
    if (this.minCipher !== "none") {
      return {
        error: "ENCRYPTION_REQUIRED",
        message: `this receiver requires encryption (minimum cipher ${this.minCipher})`,
      };
    }
    return result;
  }

  private onIk(data: Uint8Array): ResponderResult {
    const header = data.subarray(0, 1 + HINT_SIZE);
    if (data.length < header.length + KEY_SIZE + KEY_SIZE + TAG + TAG) return drop("handshake too short");
    if (!keysEqual(header.subarray(1), keyHint(this.security.keyPair.publicKey))) {
      return {
        error: "KEY_MISMATCH",
        message: "the sender expects a different public key for this receiver",
      };
    }
    const st = SymmetricState.initialize(PROTOCOL_IK, prologue(this.sessionId, header));
    st.mixHash(this.security.keyPair.publicKey);
    let pos = header.length;
    const re = data.subarray(pos, (pos += KEY_SIZE));
    st.mixHash(re);
    const es = dh(this.s, re);
    if (!es) return drop("handshake with an unusable ephemeral key");
    st.mixKey(es);
    const rs = st.decryptAndHash(data.subarray(pos, (pos += KEY_SIZE + TAG)));
    const ss = rs ? dh(this.s, rs) : null;
    if (!rs || !ss) return drop("handshake does not authenticate");
    st.mixKey(ss);
    const plain = st.decryptAndHash(data.subarray(pos));
    const hello = plain ? parseHelloPayload(plain) : null;
    if (!hello) return drop("handshake does not authenticate");
    return this.respond(st, re, rs, hello, false);
  }

  private onIx(data: Uint8Array): ResponderResult {
    if (data.length < 1 + 2 * KEY_SIZE) return drop("handshake too short");
    const st = SymmetricState.initialize(PROTOCOL_IX, prologue(this.sessionId, data.subarray(0, 1)));
    const re = data.subarray(1, 1 + KEY_SIZE);
    const rs = data.subarray(1 + KEY_SIZE, 1 + 2 * KEY_SIZE);
    st.mixHash(re);
    st.mixHash(rs);
    const hello = parseHelloPayload(st.decryptAndHash(data.subarray(1 + 2 * KEY_SIZE))!);
    if (!hello) return drop("malformed handshake");
    return this.respond(st, re, rs, hello, true);
  }

  /** Message 2 for either pattern: an outcome, or an authenticated refusal. */
  private respond(
    st: SymmetricState,
    re: Uint8Array,
    rs: Uint8Array,
    hello: HelloPayload,
    sendStatic: boolean,
  ): ResponderResult {
    const e = ephemeral();
    st.mixHash(e.pub);
    const ee = dh(e.key, re);
    const se = dh(e.key, rs);
    if (!ee || !se) return drop("handshake with an unusable key");
    st.mixKey(ee);
    st.mixKey(se);
    const parts = [e.pub];
    if (sendStatic) {
      parts.push(st.encryptAndHash(this.security.keyPair.publicKey));
      st.mixKey(dh(this.s, re)!);
    }
    const refusal = this.judge(rs, hello);
    if (refusal) {
      const reply = concat(
        ...parts,
        st.encryptAndHash(encodePayload({ err: refusal.code, msg: refusal.message })),
      );
      return { error: refusal.code, message: refusal.message, reply };
    }
    const version = Math.max(...hello.v.filter((v) => SUPPORTED_VERSIONS.includes(v)));
    const cipher = chooseCipher(hello.c, this.minCipher)!;
    const rotation = Math.min(this.rotation, hello.r);
    const payload: ReplyPayload = {
      v: version,
      id: this.local.serverId,
      uid: this.local.serverUid,
      d: this.datagramSize,
      c: cipher,
      r: rotation,
    };
    const reply = concat(...parts, st.encryptAndHash(encodePayload(payload)));
    const keys = st.split();
    return {
      reply,
      outcome: {
        peer: {
          serverId: hello.id,
          serverUid: hello.uid,
          protocolVersion: version,
          publicKey: encodePublicKey(rs),
          cipher,
          keyLearned: false,
        },
        protection: protectionFor(cipher, keys.responderToInitiator, keys.initiatorToResponder, rotation),
        datagramSize: Math.min(this.datagramSize, hello.d),
      },
    };
  }

  private judge(rs: Uint8Array, hello: HelloPayload): Refusal | null {
    const refused = this.security.authorize?.(rs) ?? null;
    if (refused) return refused;
    if (!hello.v.some((v) => SUPPORTED_VERSIONS.includes(v))) {
      return {
        code: "VERSION_MISMATCH",
        message: `no common protocol version (receiver: ${SUPPORTED_VERSIONS.join(",")}; sender: ${hello.v.join(",")})`,
      };
    }
    if (chooseCipher(hello.c, this.minCipher) === null) {
      return {
        code: "CIPHER_REJECTED",
        message: `no offered cipher (${hello.c.join(", ") || "none"}) is at or above the receiver's minimum ${this.minCipher}`,
      };
    }
    if (hello.r < MIN_KEY_ROTATION_PACKETS) {
      return {
        code: "PROTOCOL",
        message: `key rotation interval ${hello.r} is below ${MIN_KEY_ROTATION_PACKETS}`,
      };
    }
    return null;
  }
}
