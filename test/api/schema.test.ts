import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { defineMethod, noParams } from "../../src/api/schema/define.js";
import { generateApiDocs } from "../../src/api/schema/docs.js";
import { apiMethods, resolveMethodName } from "../../src/api/schema/index.js";
import { LoginThrottle } from "../../src/api/auth/throttle.js";
import { ManualClock } from "../../src/server/clock.js";

const fake = (name: string) =>
  defineMethod({ name, section: "x", access: "public", summary: "", params: noParams, result: z.null() });

describe("method schema", () => {
  it("resolves bare names as the console does (server.md §4)", () => {
    const list = [
      fake("echo"),
      fake("send.getTransfers"),
      fake("recv.getTransfers"),
      fake("send.createManifest"),
      fake("recv.getSources"),
    ];
    assert.deepEqual(resolveMethodName("echo", list), { resolved: "echo" });
    assert.deepEqual(resolveMethodName("createManifest", list), { resolved: "send.createManifest" });
    assert.deepEqual(resolveMethodName("getSourcesAsync", list), { resolved: "recv.getSourcesAsync" });
    assert.deepEqual(resolveMethodName("send.getTransfers", list), { resolved: "send.getTransfers" });
    assert.deepEqual(resolveMethodName("getTransfers", list), {
      ambiguous: ["send.getTransfers", "recv.getTransfers"],
    });
    assert.deepEqual(resolveMethodName("nothing", list), { resolved: "nothing" });
  });

  it("documents every method, structure and error code", () => {
    const docs = generateApiDocs();
    for (const spec of apiMethods)
      assert.match(docs, new RegExp(`#### \`${spec.name.replace(".", "\\.")}\``));
    for (const name of ["Session", "RequestStatus", "ServerInfo", "EventLogEntry", "LsEntry", "DuResult"])
      assert.match(docs, new RegExp(`### ${name}\\n`));
    assert.match(docs, /\| `milliseconds` \| integer \| required \|/);
    assert.match(docs, /\| `path` \| string \| `"\/"` \|/);
    assert.match(docs, /\| `API_VERSION_MISMATCH` \| -32010 \|/);
    assert.match(docs, /Also `lsAsync`/);
  });

  it("parameter tables never have unknown names: every params schema is strict", () => {
    for (const spec of apiMethods) {
      assert.equal(spec.params.safeParse({ definitelyUnknown: 1 }).success, false, spec.name);
    }
  });
});

describe("login throttle", () => {
  it("blocks after more than 10 failures within 60 s, for 60 s", () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle(clock);
    for (let i = 0; i < 10; i++) throttle.recordFailure("10.0.0.1");
    assert.equal(throttle.retryAfterMs("10.0.0.1"), 0);
    throttle.recordFailure("10.0.0.1");
    assert.equal(throttle.retryAfterMs("10.0.0.1"), 60_000);
    assert.equal(throttle.retryAfterMs("10.0.0.2"), 0);
    clock.advanceMs(59_000);
    assert.equal(throttle.retryAfterMs("10.0.0.1"), 1000);
    clock.advanceMs(1000);
    assert.equal(throttle.retryAfterMs("10.0.0.1"), 0);
  });

  it("forgets failures older than the window", () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle(clock);
    for (let i = 0; i < 10; i++) throttle.recordFailure("a");
    clock.advanceMs(61_000);
    throttle.recordFailure("a");
    assert.equal(throttle.retryAfterMs("a"), 0);
  });
});
