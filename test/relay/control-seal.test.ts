import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CONTROL_SEALED, CONTROL_SEAL_OVERHEAD, ControlSeal } from "../../src/core/relay/control-seal.js";
import { answerHello, RELAY_PROTOCOL_VERSION } from "../../src/core/relay/attach-auth.js";
import { toBase64Url } from "../../src/core/relay/x25519.js";
import { serverKeyPair } from "./helpers.js";

test("a sealed control frame opens at the other end only, once, and in order", () => {
  const key = randomBytes(32);
  const relay = ControlSeal.fromAttachKey(key, "relay");
  const inner = ControlSeal.fromAttachKey(key, "inner");
  const a = relay.seal(Buffer.from('{"t":"welcome"}'));
  const b = relay.seal(Buffer.from('{"t":"portOpened"}'));
  assert.equal(a[0], CONTROL_SEALED);
  assert.equal(a.length, 15 + CONTROL_SEAL_OVERHEAD);
  assert.ok(!a.includes(Buffer.from("welcome")), "the message is not in the clear");
  assert.equal(inner.open(b), null, "out of order");
  assert.equal(relay.open(a), null, "its own direction's key does not open it");
  assert.equal(inner.open(a)?.toString(), '{"t":"welcome"}');
  assert.equal(inner.open(a), null, "a replay");
  assert.equal(inner.open(b)?.toString(), '{"t":"portOpened"}');
  // and the other direction
  const up = inner.seal(Buffer.from([0xe1, 1, 2, 3]));
  assert.deepEqual([...relay.open(up)!], [0xe1, 1, 2, 3]);
  assert.equal(relay.open(Buffer.from([CONTROL_SEALED, 1])), null, "shorter than a tag");
});

test("a server refuses a relay speaking another relay protocol version, naming both", () => {
  const server = serverKeyPair();
  const hello = {
    t: "hello" as const,
    v: 1,
    relayKey: serverKeyPair().text,
    ephemeral: serverKeyPair().text,
    nonce: toBase64Url(randomBytes(16)),
  };
  const refused = answerHello(hello, server.privateKey, server.publicKey, randomBytes(16), undefined);
  assert.equal(refused.ok, false);
  if (!refused.ok) {
    assert.equal(refused.code, "PROTOCOL");
    assert.match(refused.message, new RegExp(`protocol 1, this server ${RELAY_PROTOCOL_VERSION}`));
  }
  assert.equal(
    answerHello(
      { ...hello, v: RELAY_PROTOCOL_VERSION },
      server.privateKey,
      server.publicKey,
      randomBytes(16),
      undefined,
    ).ok,
    true,
  );
});
