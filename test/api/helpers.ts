import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type StartServerDeps } from "../../src/api/start-server.js";
import type { ServerHandle } from "../../src/api/extension.js";
import { SlipstreamClient, type ClientOptions } from "../../src/client/client.js";
import { readAdminPassword } from "../../src/client/credentials.js";
import type { ServerOptions } from "../../src/server/options/definitions.js";
import { silentLogger } from "../../src/server/logger.js";

export interface TestServer {
  handle: ServerHandle;
  stateDir: string;
  adminPassword: string;
  client(opts?: ClientOptions): SlipstreamClient;
  /** a client logged in as admin (elevated when asked) */
  admin(elevate?: boolean): Promise<SlipstreamClient>;
  stop(): Promise<void>;
}

export function temporaryDir(prefix = "slipstream-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A real server on 127.0.0.1 with a port picked by the OS and a throwaway state dir. */
export async function startTestServer(
  overrides: Partial<ServerOptions> = {},
  deps: StartServerDeps = {},
): Promise<TestServer> {
  const stateDir = temporaryDir();
  const handle = await startServer(
    // no receive port unless a test asks: the default 8886 would collide between test files
    { stateDir, apiHost: "127.0.0.1", apiPort: 0, recvPorts: [], ...overrides },
    { logger: silentLogger(), failureDelayMs: 5, ...deps },
  );
  const adminPassword = readAdminPassword(stateDir) ?? "";
  const client = (opts: ClientOptions = {}) =>
    new SlipstreamClient({ host: "127.0.0.1", port: handle.apiPort, knownHostsFile: null, ...opts });
  return {
    handle,
    stateDir,
    adminPassword,
    client,
    async admin(elevate = false) {
      const c = client();
      await c.login("admin", adminPassword);
      if (elevate) await c.superuser();
      return c;
    },
    async stop() {
      await handle.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Wait until `predicate` holds (polling), failing after `ms`. */
export async function eventually(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The part of a Transfer the helpers below read. */
export interface EndedTransfer {
  transferId: string;
  manifestId: string;
  destinationId: string;
  status: string;
  endTime: number;
  expiryTime: number | null;
}

/**
 * Through `api` (an admin client of the sending server): a fixed-rate destination to
 * 127.0.0.1:`recvPort`, a manifest of `src` mapped to `files`, a transfer into `drop`; waits for
 * its end (at most 30 s).
 */
export async function sendDirectory(
  api: SlipstreamClient,
  recvPort: number,
  src: string,
): Promise<EndedTransfer> {
  const dest = (await api.call("send.createDestination", {
    destinationAddress: "127.0.0.1",
    destinationPort: recvPort,
    rateControlMethod: "fixed",
    sendRate: 100_000,
  })) as { destinationId: string };
  const manifest = (await api.call("send.createManifest", { fileMappings: [`${src}:files`] })) as {
    manifestId: string;
  };
  await api.call("send.waitForManifest", { manifestId: manifest.manifestId, timeoutSeconds: 10 });
  const transfer = (await api.call("send.createTransfer", {
    manifestId: manifest.manifestId,
    destinationId: dest.destinationId,
    destinationPath: "drop",
  })) as { transferId: string };
  const end = (await api.call("send.waitForTransfer", {
    transferId: transfer.transferId,
    timeoutSeconds: 30,
  })) as Omit<EndedTransfer, "transferId" | "manifestId" | "destinationId">;
  return {
    ...end,
    transferId: transfer.transferId,
    manifestId: manifest.manifestId,
    destinationId: dest.destinationId,
  };
}
