/**
 * Shared tokens and the server's options: links name `--external-address` or the API address
 * (api.md §5.15); `--api-disable-shared-tokens` makes them UNAVAILABLE (api.md §2.1, §3.6).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sendExtension } from "../../src/api/send-extension.js";
import { ServerInfoBuilder } from "../../src/api/server-info.js";
import { SlipstreamApiError } from "../../src/client/errors.js";
import type { ServerState } from "../../src/server/server-state.js";
import { sharedTokensOf } from "../../src/server/tokens/index.js";
import { startTestServer, type TestServer } from "./helpers.js";

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SlipstreamApiError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe("shared-token links", () => {
  const builder = (externalAddress: string | null, host: string) =>
    new ServerInfoBuilder(
      { options: { externalAddress }, hostName: "box.example" } as unknown as ServerState,
      () => ({ host, port: 8890 }),
    );

  it("name --external-address, else the API address (the host name for a wildcard bind)", () => {
    assert.equal(builder("files.example.org", "::").linkAddress(), "files.example.org:8890");
    assert.equal(builder("files.example.org:443", "::").linkAddress(), "files.example.org:443");
    assert.equal(builder(null, "0.0.0.0").linkAddress(), "box.example:8890");
    assert.equal(builder(null, "::1").linkAddress(), "[::1]:8890");
    assert.equal(builder(null, "10.1.2.3").linkAddress(), "10.1.2.3:8890");
  });
});

describe("shared tokens disabled", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ apiDisableSharedTokens: true }, { extensions: [sendExtension()] });
  });
  after(() => server.stop());

  it("refuses createSharedToken and logins with shared tokens with UNAVAILABLE", async () => {
    const admin = await server.admin();
    assert.equal((await server.client().call("getServerInfo")).sharedTokensAvailable, false);
    await assert.rejects(
      admin.call("send.createSharedToken", { manifestId: "0".repeat(32) }),
      rejectsWith("UNAVAILABLE"),
    );
    const existing = await sharedTokensOf(server.handle.state).create({
      owner: "admin",
      ownerToken: null,
      ownerTokenSession: null,
      manifestId: "0".repeat(32),
      description: "",
      expiryTime: null,
      downloadLimit: null,
      password: null,
      userData: {},
    });
    await assert.rejects(admin.call("authToken", { token: existing.token }), rejectsWith("UNAVAILABLE"));
  });
});
