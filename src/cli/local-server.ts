/**
 * The local server a client command drives: the one whose runtime.json is in the state dir (or
 * at --host/--api-port), logged in as admin through admin.password on the same host; or, when
 * none answers, an embedded server in this process with temporary state.
 */
import { sendExtension } from "../api/send-extension.js";
import { startServer } from "../api/start-server.js";
import type { ServerHandle } from "../api/extension.js";
import { SlipstreamClient } from "../client/client.js";
import { isLoopbackHost, readAdminPassword } from "../client/credentials.js";
import { SlipstreamConnectionError } from "../client/errors.js";
import { receiveService } from "../server/engine/receive-service.js";
import { silentLogger } from "../server/logger.js";
import { defaultStateDir } from "../server/options/definitions.js";
import { defaultsEnv } from "../server/options/parse.js";
import { readRuntimeFile } from "../server/runtime-file.js";
import { CliExit, EXIT } from "./exit.js";

export interface LocalServerOptions {
  host: string;
  apiPort?: number;
  stateDir?: string;
  user?: string;
  embedded: boolean;
  recvPort: number;
  /** an embedded server sends and receives unencrypted (`--cipher none --min-cipher none`) */
  unencrypted?: boolean;
}

export interface LocalServer {
  client: SlipstreamClient;
  embedded: ServerHandle | null;
  close(): Promise<void>;
}

export async function connectLocalServer(o: LocalServerOptions, command: string): Promise<LocalServer> {
  const stateDir = o.stateDir ?? defaultStateDir(defaultsEnv());
  const runtime = o.apiPort === undefined && isLoopbackHost(o.host) ? readRuntimeFile(stateDir) : null;
  const port = o.apiPort ?? runtime?.apiPort ?? 8886;
  const client = new SlipstreamClient({ host: o.host, port, knownHostsFile: null });
  try {
    await login(client, o, stateDir);
    return { client, embedded: null, close: async () => client.close() };
  } catch (error) {
    client.close();
    if (!(error instanceof SlipstreamConnectionError)) throw error;
    if (!o.embedded) {
      throw new CliExit(
        EXIT.CONNECT,
        `slipstream ${command}: no server at ${o.host}:${port} (${error.message})`,
      );
    }
  }
  const handle = await startServer(
    {
      ephemeral: true,
      apiHost: "127.0.0.1",
      apiPort: 0,
      recvPorts: [o.recvPort],
      logLevel: "error",
      ...(o.unencrypted ? { cipher: "none", minCipher: "none" } : {}),
    },
    { extensions: [receiveService(), sendExtension()], logger: silentLogger() },
  );
  const embedded = new SlipstreamClient({ host: "127.0.0.1", port: handle.apiPort, knownHostsFile: null });
  await embedded.loginWithStateDir(handle.state.stateDir.path);
  return {
    client: embedded,
    embedded: handle,
    async close() {
      embedded.close();
      await handle.close();
    },
  };
}

async function login(client: SlipstreamClient, o: LocalServerOptions, stateDir: string): Promise<void> {
  if (o.user !== undefined) {
    const password = process.env.SLIPSTREAM_API_PASSWORD;
    if (password === undefined) throw new CliExit(EXIT.AUTH, "set SLIPSTREAM_API_PASSWORD for --user");
    await client.login(o.user, password);
    return;
  }
  const password = readAdminPassword(stateDir);
  if (password === null) {
    // still find out whether a server answers, so the caller can fall back to an embedded one
    await client.call("getServerInfo", {});
    throw new CliExit(EXIT.AUTH, `cannot read ${stateDir}/admin.password: give --user or --state-dir`);
  }
  await client.login("admin", password);
}
