/**
 * The part every direction of cp shares (server.md §5): on the sending server's API, a
 * destination for the receiver (reused if it exists; through --relay), a manifest (or the shared
 * one), the transfer; then detach, or follow it to its end (or to the receiver's refusal).
 */
import { SlipstreamApiError } from "../../../client/errors.js";
import type { SlipstreamClient } from "../../../client/client.js";
import { CliExit, EXIT } from "../../exit.js";
import type { Cleanups } from "./cleanups.js";
import { follow, type TransferView } from "./follow.js";
import type { CpOptions } from "./options.js";
import { relaySettings, requireUnencryptedSender } from "./sending.js";

/** One cp run: what to undo at its end, and the transfer Ctrl-C cancels. */
export interface CopyRun {
  cleanups: Cleanups;
  transfer: { api: SlipstreamClient; transferId: string } | null;
}

export interface TransferPlan {
  /** the API of the sending server */
  api: SlipstreamClient;
  /** the receiver as the sending server reaches it */
  destination: { address: string; port: number; publicKey: string | null };
  /** the files: local mappings for a new manifest, or an existing (shared) manifest */
  manifest: { fileMappings: { srcPath: string; destPath: string }[] } | { manifestId: string };
  destinationPath: string;
  receiveToken: { token: string; password: string | null } | null;
  /** names the copy in the progress line */
  label: string;
  /** --detach is honoured (not when an embedded server in this process takes part) */
  canDetach: boolean;
}

/** A new destination, or the caller's existing one for the same receiver (server.md §5). */
async function destinationFor(plan: TransferPlan, o: CpOptions): Promise<string> {
  const { api, destination } = plan;
  const rates = {
    rateControlMethod: o.rateControl as "fixed" | undefined,
    sendRate: o.rate,
    sendRateMin: o.rateMin,
    sendRateMax: o.rateMax,
  };
  const given = Object.fromEntries(Object.entries(rates).filter(([, v]) => v !== undefined));
  try {
    // the relay is part of the destination's identity (api.md): another relay, another destination
    const created = await api.call("send.createDestination", {
      destinationAddress: destination.address,
      destinationPort: destination.port,
      ...(destination.publicKey ? { destinationPublicKey: destination.publicKey } : {}),
      ...relaySettings(o),
      ...given,
    });
    return created.destinationId;
  } catch (error) {
    // an existing destination with other settings: reuse it, updating rates only if asked
    if (!(error instanceof SlipstreamApiError) || error.code !== "CONFLICT") throw error;
    const id = (error.data as { id?: string }).id!;
    if (Object.keys(given).length === 0) return id;
    if (!o.quiet)
      process.stderr.write(
        "slipstream cp: updating the destination's rates; this affects its other transfers\n",
      );
    await api.call("send.updateDestination", { destinationId: id, ...given });
    return id;
  }
}

/**
 * Creates the transfer on `plan.api` and follows it; resolves with true when detached (the
 * caller then keeps the tokens), false when it completed; exit status 1 when it did not.
 */
export async function runTransfer(plan: TransferPlan, o: CpOptions, run: CopyRun): Promise<boolean> {
  const { api } = plan;
  if (!o.encryption) await requireUnencryptedSender(api);
  const destinationId = await destinationFor(plan, o);
  const manifestId =
    "manifestId" in plan.manifest
      ? plan.manifest.manifestId
      : (await api.call("send.createManifest", { fileMappings: plan.manifest.fileMappings })).manifestId;
  const transfer = (await api.call("send.createTransfer", {
    manifestId,
    destinationId,
    destinationPath: plan.destinationPath,
    priority: o.priority,
    overwrite: o.overwrite as "always",
    ...(plan.receiveToken
      ? { receiveToken: plan.receiveToken.token, receiveTokenPassword: plan.receiveToken.password }
      : {}),
    ...(o.checkpoint !== undefined ? { checkpointFrequencySeconds: o.checkpoint } : {}),
  })) as TransferView;
  run.transfer = { api, transferId: transfer.transferId };
  if (o.detach && plan.canDetach) {
    process.stdout.write(transfer.transferId + "\n");
    return true;
  }
  const end = await follow(api, transfer.transferId, plan.label, o.quiet === true);
  if (end.refused !== null) {
    await api.call("send.cancelTransfer", { transferId: transfer.transferId }).catch(() => undefined);
    run.transfer = null;
    const hint = o.encryption ? "" : " (--no-encryption needs a receiver whose --min-cipher is none)";
    throw new CliExit(EXIT.FAILED, `slipstream cp: the receiver refused the session: ${end.refused}${hint}`);
  }
  run.transfer = null;
  const cipher = end.connection.cipher;
  if (!o.encryption && cipher !== null && cipher !== "none") {
    process.stderr.write(
      `slipstream cp: warning: the session was encrypted all the same (${cipher}): the sending server's --cipher is not none\n`,
    );
  }
  if (o.json) process.stdout.write(JSON.stringify(end.transfer, null, 2) + "\n");
  if (end.transfer.status !== "complete") throw new CliExit(EXIT.FAILED);
  return false;
}
