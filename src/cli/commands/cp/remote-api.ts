/**
 * cp's sessions on remote servers (server.md §5): a client pinning the remote certificate, the
 * three ways to log in (user password, API token, shared token), and what a receiving remote
 * needs from cp (its public key and, for `user@host`, an upload token made for the copy).
 */
import { SlipstreamApiError, SlipstreamConnectionError } from "../../../client/errors.js";
import { SlipstreamClient } from "../../../client/client.js";
import { CliExit, EXIT } from "../../exit.js";
import { promptHidden } from "../../prompt.js";
import type { Cleanups } from "./cleanups.js";
import type { CpOptions } from "./options.js";
import type { RemoteTarget } from "./operands.js";
import { relayed } from "./sending.js";

/** A client for a remote API, with the certificate pinned on first use (or to --fingerprint). */
export function remoteClient(host: string, port: number, o: CpOptions): SlipstreamClient {
  return new SlipstreamClient({
    host,
    port,
    fingerprint: o.fingerprint ?? null,
    onFirstUse: (hostPort, fingerprint) =>
      process.stderr.write(
        `slipstream cp: recorded certificate fingerprint of ${hostPort}: ${fingerprint}\n`,
      ),
  });
}

/** `work` against the API of `client`, a failure to reach it being exit status 3. */
export async function reaching<T>(client: SlipstreamClient, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SlipstreamConnectionError) {
      throw new CliExit(
        EXIT.CONNECT,
        `slipstream cp: cannot reach the API of ${client.host}:${client.port}: ${error.message}`,
      );
    }
    throw error;
  }
}

function refused(error: unknown): boolean {
  return (
    error instanceof SlipstreamApiError && (error.code === "AUTH_FAILED" || error.code === "UNAVAILABLE")
  );
}

/** Log in as `user` (password from SLIPSTREAM_REMOTE_PASSWORD or a prompt); exit 4 if refused. */
export async function loginUser(client: SlipstreamClient, user: string): Promise<void> {
  const password =
    process.env.SLIPSTREAM_REMOTE_PASSWORD ??
    (await promptHidden(`Password for ${user}@${client.host}: `, EXIT.AUTH));
  await reaching(client, () => client.login(user, password)).catch((error: unknown) => {
    if (!refused(error)) throw error;
    throw new CliExit(
      EXIT.AUTH,
      `slipstream cp: login to ${client.host} as ${user} failed: ${(error as Error).message}`,
    );
  });
}

/**
 * Log in with an API token or a shared token (`what` names it in messages). Its password comes
 * from SLIPSTREAM_TOKEN_PASSWORD; without one, a refused login is retried once with a prompted
 * password when there is a terminal. Exit 4 if refused.
 */
export async function loginToken(client: SlipstreamClient, token: string, what: string): Promise<void> {
  const attempt = async (password: string | null): Promise<void> => {
    const session = await reaching(client, () => client.call("authToken", { token, password }));
    client.sessionKey = session.sessionKey ?? null;
    client.session = session;
  };
  const given = process.env.SLIPSTREAM_TOKEN_PASSWORD ?? null;
  try {
    await attempt(given);
    return;
  } catch (error) {
    if (!refused(error)) throw error;
    if (given !== null || !process.stdin.isTTY || (error as SlipstreamApiError).code !== "AUTH_FAILED") {
      throw new CliExit(
        EXIT.AUTH,
        `slipstream cp: ${client.host}:${client.port} refused ${what}: ${(error as Error).message}`,
      );
    }
  }
  const password = await promptHidden(`Password for ${what}: `, EXIT.AUTH);
  await attempt(password).catch((error: unknown) => {
    if (!refused(error)) throw error;
    throw new CliExit(
      EXIT.AUTH,
      `slipstream cp: ${client.host}:${client.port} refused ${what}: ${(error as Error).message}`,
    );
  });
}

/** Ends the session (best effort) and closes the client. */
export async function closeRemote(client: SlipstreamClient): Promise<void> {
  if (client.sessionKey !== null) await client.logout().catch(() => undefined);
  client.close();
}

/** What the receiving end of a copy needs: its key, the receive token cp passes on, and where. */
export interface ReceivingGrant {
  publicKey: string | null;
  token: { token: string; password: string | null } | null;
  /**
   * the transfer's destinationPath: relative to the token's path when there is a token
   * (server.md §15), so "" for the token cp makes for exactly the target directory
   */
  destinationPath: string;
}

/**
 * What a receiving remote needs from cp (server.md §5, first row): its public key (from its
 * public getServerInfo, unless --public-key gives it; none with --no-encryption); with `token`
 * (--remote-token) that token as the receive token, `destinationPath` (the operand's path) being
 * relative to its path, and the key only for a --relay copy, which needs it; for
 * `user@host` a 24-hour API token with `upload` confined to the target directory
 * `destinationPath`, made for this copy and deleted by `cleanups` after it.
 */
export async function receivingGrant(
  target: RemoteTarget,
  destinationPath: string,
  apiPort: number,
  token: string | undefined,
  o: CpOptions,
  cleanups: Cleanups,
): Promise<ReceivingGrant> {
  const none: ReceivingGrant = { publicKey: o.publicKey ?? null, token: null, destinationPath };
  // an unencrypted session needs no key (user@ and tokens were refused with --no-encryption)
  if (!o.encryption) return none;
  const client = remoteClient(target.host, apiPort, o);
  cleanups.add(() => closeRemote(client));
  const publicKey = async () =>
    o.publicKey ?? (await reaching(client, () => client.call("getServerInfo", {}))).publicKey;
  if (token !== undefined) {
    const given = { ...none, token: { token, password: process.env.SLIPSTREAM_TOKEN_PASSWORD ?? null } };
    // a relay only carries sessions authenticated by the receiver's key (server.md §9)
    return relayed(o) ? { ...given, publicKey: await publicKey() } : given;
  }
  if (target.user === null) return { ...none, publicKey: await publicKey() };
  const key = await publicKey();
  await loginUser(client, target.user);
  const created = await makeUploadToken(client, "/" + destinationPath, "slipstream cp", cleanups);
  // the token's path is the target directory: the transfer names nothing below it
  return { publicKey: key, token: { token: created.token, password: null }, destinationPath: "" };
}

/**
 * A 24-hour API token with `upload` confined to `directory` (created first if missing), for one
 * copy: deleted by `cleanups` when it ends. The receiving side of every cp direction uses one.
 */
export async function makeUploadToken(
  client: SlipstreamClient,
  directory: string,
  description: string,
  cleanups: Cleanups,
): Promise<{ token: string }> {
  const created = await reaching(client, async () => {
    if (directory !== "/") await client.call("mkdir", { path: directory, parents: true });
    return client.call("createAPIToken", {
      permissions: ["upload"],
      path: directory,
      description,
      expirySeconds: 86_400,
    });
  });
  cleanups.addToken(async () => {
    await client.call("deleteAPIToken", { token: created.token });
  });
  return created;
}
