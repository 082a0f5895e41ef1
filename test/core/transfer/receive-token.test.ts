/**
 * The receiveToken in a transfer's start message (api.md §3.4): it goes on the wire only on an
 * encrypted session, round-trips through the codec, reaches the receiver's transfer request on
 * an encrypted session, and a receiver refuses a transfer whose token arrived in the clear.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair } from "../../../src/core/crypto/keys.js";
import type { IncomingTransfer } from "../../../src/core/endpoint/receiver.js";
import { decodeControl, encodeControl, type ControlMessage } from "../../../src/core/transfer/messages.js";
import {
  receiveTokenRefusal,
  SendTransfer,
  type TransferSpec,
} from "../../../src/core/transfer/send-transfer.js";
import { Harness, TRANSFER } from "../crypto/harness.js";

const TOKEN = "0123456789abcdef0123456789abcdef";

function spec(receiveToken?: TransferSpec["receiveToken"]): TransferSpec {
  return {
    id: TRANSFER,
    destinationPath: "in",
    overwrite: "always",
    files: [{ path: "f.bin", size: 10, mtime: 1 }],
    ...(receiveToken ? { receiveToken } : {}),
  };
}

function startMessage(s: TransferSpec, encrypted: boolean): Extract<ControlMessage, { t: "start" }> {
  const sent: ControlMessage[] = [];
  const t = new SendTransfer(s, { sendControl: (m) => sent.push(m), requestRead: () => undefined }, () => ({
    ahead: 1 << 20,
    hold: 1 << 20,
  }));
  t.announce(0, 1024, encrypted);
  const start = sent.find((m) => m.t === "start");
  assert.ok(start && start.t === "start");
  return start;
}

test("the start message carries the token and password only on an encrypted session", () => {
  const withToken = spec({ token: TOKEN, password: "pw" });
  const encrypted = decodeControl(encodeControl(startMessage(withToken, true)));
  assert.ok(encrypted?.t === "start");
  assert.equal(encrypted.rt, TOKEN);
  assert.equal(encrypted.rtp, "pw");
  const noPassword = decodeControl(encodeControl(startMessage(spec({ token: TOKEN, password: null }), true)));
  assert.ok(noPassword?.t === "start" && noPassword.rt === TOKEN && noPassword.rtp === null);

  const plain = encodeControl(startMessage(withToken, false));
  assert.ok(!Buffer.from(plain).toString().includes(TOKEN), "no token in the clear");
  const decoded = decodeControl(plain);
  assert.ok(decoded?.t === "start" && decoded.rt === undefined && decoded.rtp === undefined);
  assert.equal(startMessage(spec(), true).rt, undefined);
});

test("receiveTokenRefusal: a token needs encryption; no token needs nothing", () => {
  assert.match(receiveTokenRefusal(spec({ token: TOKEN, password: null }), false) ?? "", /encrypted/);
  assert.equal(receiveTokenRefusal(spec({ token: TOKEN, password: null }), true), null);
  assert.equal(receiveTokenRefusal(spec(), false), null);
});

test("the codec refuses malformed token fields", () => {
  const base = {
    t: "start",
    n: 0,
    id: TRANSFER,
    blockSize: 1024,
    path: "",
    overwrite: "always",
    files: [],
    more: false,
  };
  const encode = (v: object) => new TextEncoder().encode(JSON.stringify(v));
  assert.equal(decodeControl(encode({ ...base, rt: 5 })), null);
  assert.equal(decodeControl(encode({ ...base, rt: "x".repeat(257) })), null);
  assert.equal(decodeControl(encode({ ...base, rt: TOKEN, rtp: 7 })), null);
  assert.ok(decodeControl(encode({ ...base, rt: TOKEN, rtp: null })));
});

/**
 * Run a transfer whose start message carries the token as if the session were encrypted: the
 * token joins the spec only at announce time, past any check of the sender endpoint, so this
 * also stands for a sender that misbehaves.
 */
function requestSeen(h: Harness): IncomingTransfer | undefined {
  const t = h.sender.addTransfer(h.now, spec());
  const announce = t.announce.bind(t);
  t.announce = (n, blockSize) => {
    t.spec.receiveToken = { token: TOKEN, password: "pw" };
    announce(n, blockSize, true);
  };
  h.run(5_000_000, () => h.transferDone());
  const request = h.receiverEvents.find((e) => e.type === "transferRequest");
  return request?.type === "transferRequest" ? request.transfer : undefined;
}

test("an encrypted session hands the token to the receiver's transfer request", () => {
  const receiverKeys = generateKeyPair();
  const h = new Harness(
    { keyPair: generateKeyPair(), peerPublicKey: receiverKeys.publicKey },
    { keyPair: receiverKeys },
  );
  const request = requestSeen(h);
  assert.deepEqual(request?.receiveToken, { token: TOKEN, password: "pw" });
});

test("a receiver refuses a transfer whose token came on an unencrypted session", () => {
  const h = new Harness(undefined, undefined);
  assert.equal(requestSeen(h), undefined, "no transfer request reaches the driver");
  const refused = h.senderEvents.find((e) => e.type === "transferRefused");
  assert.ok(refused?.type === "transferRefused");
  assert.equal(refused.code, "RECEIVER_REFUSED");
  assert.match(refused.message, /encrypted/);
});

test("the sender endpoint passes the session's encryption to announce and fails a token transfer in the clear", () => {
  const receiverKeys = generateKeyPair();
  const encrypted = new Harness(
    { keyPair: generateKeyPair(), peerPublicKey: receiverKeys.publicKey },
    { keyPair: receiverKeys },
  );
  encrypted.sender.addTransfer(0, spec({ token: TOKEN, password: null }));
  encrypted.run(5_000_000, () => encrypted.transferDone());
  const request = encrypted.receiverEvents.find((e) => e.type === "transferRequest");
  assert.ok(request?.type === "transferRequest" && request.transfer.receiveToken?.token === TOKEN);

  const plain = new Harness(undefined, undefined);
  plain.sender.addTransfer(0, spec({ token: TOKEN, password: null }));
  plain.run(5_000_000, () => plain.transferDone());
  const failed = plain.senderEvents.find((e) => e.type === "transferFailed");
  assert.ok(failed?.type === "transferFailed" && /encrypted/.test(failed.message));
});
