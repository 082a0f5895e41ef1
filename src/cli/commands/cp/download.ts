/**
 * Copies driven through a remote server's API (server.md §5): `host:path → local`,
 * `hostA:path → hostB:path` and `slipstream://… link → local`. The remote sends; the local
 * server (or an embedded one) or hostB receives.
 */
import { posix } from "node:path";
import { SlipstreamApiError } from "../../../client/errors.js";
import type { SlipstreamClient } from "../../../client/client.js";
import { CliExit, EXIT, usageError } from "../../exit.js";
import { prepareLocalReceiver } from "./local-receiver.js";
import {
  localDirectory,
  nameCopy,
  planLocalTarget,
  remoteTargetIsDirectory,
  requireRecursive,
  type RemoteServer,
  type RemoteSource,
  type RemoteTarget,
  type SharedLink,
  type SourceInfo,
} from "./operands.js";
import { connectCpLocalServer, type CpOptions } from "./options.js";
import { closeRemote, loginToken, loginUser, reaching, receivingGrant, remoteClient } from "./remote-api.js";
import { runTransfer, type CopyRun } from "./transfer.js";

/**
 * A session on the server the SOURCEs are on: as `user@` (password), or with `token` (an API
 * token carrying `download`). Either is needed.
 */
async function openSource(
  server: RemoteServer,
  token: string | undefined,
  o: CpOptions,
  run: CopyRun,
): Promise<SlipstreamClient> {
  if (server.user === null && token === undefined) {
    throw usageError(
      `slipstream cp: copying from ${server.host} needs user@${server.host}:path or --remote-token (an API token with download)`,
    );
  }
  const client = remoteClient(server.host, o.remoteApiPort, o);
  run.cleanups.add(() => closeRemote(client));
  if (server.user !== null) await loginUser(client, server.user);
  else await loginToken(client, token!, "the API token");
  return client;
}

/** Whether each remote source is a file or a directory (through `ls`), checking -r. */
function sourceInfos(
  client: SlipstreamClient,
  sources: readonly RemoteSource[],
  recursive: boolean,
): Promise<SourceInfo[]> {
  return Promise.all(
    sources.map(async ({ path, operand }) => {
      const entries = await reaching(client, () => client.call("ls", { path, limit: 1 })).catch(
        (error: unknown) => {
          if (error instanceof SlipstreamApiError && error.code === "NOT_FOUND")
            throw usageError(`slipstream cp: ${operand}: no such file or directory`);
          throw error;
        },
      );
      // `ls` of a file is that one entry; of a directory, its children
      const only = entries.length === 1 ? entries[0]! : null;
      const directory = !(only !== null && only.path === path && only.type !== "dir");
      requireRecursive(operand, directory, recursive);
      return { path, directory };
    }),
  );
}

function labelOf(sources: readonly RemoteSource[], host: string): string {
  return sources.length === 1 ? posix.basename(sources[0]!.path) || host : `${sources.length} sources`;
}

/**
 * The sending remote (`source`) transfers `files` into `destinationPath` of the local server,
 * which receives with an upload token made for the copy and confined to that directory: the
 * transfer's own destinationPath, relative to the token's path, is then "" (server.md §15).
 */
async function toLocal(
  source: SlipstreamClient,
  files: { fileMappings: { srcPath: string; destPath: string }[] } | { manifestId: string },
  destinationPath: string,
  label: string,
  o: CpOptions,
  run: CopyRun,
): Promise<boolean> {
  const local = await connectCpLocalServer(o);
  run.cleanups.add(() => local.close());
  const receiver = await prepareLocalReceiver(
    local.client,
    { host: source.host, port: source.port },
    "/" + destinationPath,
    o,
    run.cleanups,
  );
  return runTransfer(
    {
      api: source,
      destination: { address: receiver.address, port: receiver.port, publicKey: receiver.publicKey },
      manifest: files,
      destinationPath: "",
      receiveToken: receiver.token,
      label,
      canDetach: local.embedded === null,
    },
    o,
    run,
  );
}

/** `[user@]host:path… → local` */
export async function runDownload(
  server: RemoteServer,
  sources: readonly RemoteSource[],
  target: string,
  o: CpOptions,
  run: CopyRun,
): Promise<boolean> {
  const source = await openSource(server, o.remoteToken, o, run);
  const infos = await sourceInfos(source, sources, o.recursive === true);
  const plan = await planLocalTarget(infos, target);
  return toLocal(
    source,
    { fileMappings: plan.mappings },
    plan.destinationPath,
    labelOf(sources, server.host),
    o,
    run,
  );
}

/** `slipstream://host/download?token=T → local`: the shared manifest, below `target`. */
export async function runLinkDownload(
  link: SharedLink,
  target: string,
  o: CpOptions,
  run: CopyRun,
): Promise<boolean> {
  const destinationPath = await localDirectory(target);
  const source = remoteClient(link.host, link.port, o);
  run.cleanups.add(() => closeRemote(source));
  await loginToken(source, link.token, "the link's token");
  const [manifest] = await reaching(source, () => source.call("send.getManifests", {}));
  if (manifest === undefined)
    throw new CliExit(EXIT.FAILED, `slipstream cp: ${link.host} offers no manifest through this link`);
  return toLocal(source, { manifestId: manifest.manifestId }, destinationPath, "link", o, run);
}

/**
 * `hostA:path… → hostB:path`, driven on hostA. --remote-token logs in to hostA unless hostA
 * has `user@`; then it is hostB's receive token.
 */
export async function runRemoteToRemote(
  server: RemoteServer,
  sources: readonly RemoteSource[],
  target: RemoteTarget,
  o: CpOptions,
  run: CopyRun,
): Promise<boolean> {
  const source = await openSource(server, server.user === null ? o.remoteToken : undefined, o, run);
  const infos = await sourceInfos(source, sources, o.recursive === true);
  const plan = nameCopy(infos, target.path, remoteTargetIsDirectory(target.path, infos.length));
  const grant = await receivingGrant(
    target,
    plan.destinationPath,
    o.targetApiPort ?? o.remoteApiPort,
    server.user === null ? undefined : o.remoteToken,
    o,
    run.cleanups,
  );
  return runTransfer(
    {
      api: source,
      destination: { address: target.host, port: target.port ?? o.port, publicKey: grant.publicKey },
      manifest: { fileMappings: plan.mappings },
      destinationPath: grant.destinationPath,
      receiveToken: grant.token,
      label: labelOf(sources, server.host),
      canDetach: true,
    },
    o,
    run,
  );
}
