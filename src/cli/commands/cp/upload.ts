/** `slipstream cp SOURCE… [user@]host:path` (server.md §5, row "local → host:path"). */
import { basename } from "node:path";
import { planCopy, type RemoteTarget } from "./operands.js";
import { connectCpLocalServer, type CpOptions } from "./options.js";
import { receivingGrant } from "./remote-api.js";
import { runTransfer, type CopyRun } from "./transfer.js";

/** Drives the local (or an embedded) server to send local `sources` to `target`. */
export async function runUpload(
  sources: readonly string[],
  target: RemoteTarget,
  o: CpOptions,
  run: CopyRun,
): Promise<boolean> {
  const plan = await planCopy(sources, target.path, o.recursive === true);
  const grant = await receivingGrant(
    target,
    plan.destinationPath,
    o.remoteApiPort,
    o.remoteToken,
    o,
    run.cleanups,
  );
  const local = await connectCpLocalServer(o);
  run.cleanups.add(() => local.close());
  return runTransfer(
    {
      api: local.client,
      destination: { address: target.host, port: target.port ?? o.port, publicKey: grant.publicKey },
      manifest: { fileMappings: plan.mappings },
      destinationPath: grant.destinationPath,
      receiveToken: grant.token,
      label: sources.length === 1 ? basename(sources[0]!) : `${sources.length} sources`,
      canDetach: local.embedded === null,
    },
    o,
    run,
  );
}
