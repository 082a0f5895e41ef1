/**
 * Receive records (api.md §5.12) are removed `recvTransferExpirySeconds` after they end; a failed
 * transfer's leftover part files (`.<name>.slipstream-<transferId>.part`, server.md §15) and its
 * receiver checkpoint go with it. Complete and cancelled transfers leave no part files behind.
 */
import type { Dirent } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { isAbsolute, join, parse } from "node:path";
import { errnoCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { FINAL_RECV_STATUSES, type ReceiveTransferView } from "../recv/recv-records.js";
import type { GcCollector } from "./garbage-collector.js";
import { hasExpired } from "./gc-settings.js";

/** What the collector needs of the receive records. */
export interface RecvRecordsForGc {
  /** every record, as kept */
  all(): readonly ReceiveTransferView[];
  /** drop a record from memory and the database */
  remove(transferId: string): void;
}

export interface RecvCollectorOptions {
  /** directories holding receiver checkpoints (`<transferId>.receiver.json`) */
  checkpointDirs: () => readonly string[];
  logger: Logger;
}

export function recvCollector(records: RecvRecordsForGc, opts: RecvCollectorOptions): GcCollector {
  return {
    name: "recvTransfers",
    async collect({ now, settings }) {
      let removed = 0;
      for (const record of [...records.all()]) {
        if (!FINAL_RECV_STATUSES.includes(record.status)) continue;
        if (!hasExpired(record.endTime, settings.recvTransferExpirySeconds, now)) continue;
        if (record.status === "error") await removeLeftovers(record, opts);
        records.remove(record.transferId);
        removed++;
      }
      return { recvTransfers: removed };
    },
  };
}

async function removeLeftovers(record: ReceiveTransferView, opts: RecvCollectorOptions): Promise<void> {
  const id = record.transferId;
  for (const dir of opts.checkpointDirs())
    await rm(join(dir, `${id}.receiver.json`), { force: true }).catch(() => undefined);
  // S3 targets (`s3://…`) keep nothing under the root path
  if (!isAbsolute(record.rootPath)) return;
  // without a sandbox and destination path the root is `/`: not a tree to walk for leftovers
  if (parse(record.rootPath).root === record.rootPath) {
    opts.logger.warn(
      { component: "gc", transferId: id, rootPath: record.rootPath },
      "part files of a failed transfer into the filesystem root are left in place",
    );
    return;
  }
  try {
    const budget = { entries: MAX_ENTRIES_WALKED };
    await removePartFiles(record.rootPath, `.slipstream-${id}.part`, budget);
    if (budget.entries <= 0) {
      opts.logger.warn(
        { component: "gc", transferId: id, rootPath: record.rootPath },
        `stopped looking for part files after ${MAX_ENTRIES_WALKED} directory entries`,
      );
    }
  } catch (error) {
    opts.logger.warn(
      { component: "gc", err: error, transferId: id, rootPath: record.rootPath },
      "cannot remove the part files of a failed transfer",
    );
  }
}

/** a failed transfer's part files are looked for in at most this many directory entries */
const MAX_ENTRIES_WALKED = 200_000;

/**
 * Delete every regular file under `dir` whose name ends with `suffix`; symlinks are not followed.
 * Stops once `budget.entries` directory entries have been looked at.
 */
export async function removePartFiles(
  dir: string,
  suffix: string,
  budget: { entries: number } = { entries: Infinity },
): Promise<number> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return 0;
    throw error;
  }
  let count = 0;
  for (const entry of entries) {
    if (--budget.entries < 0) break;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) count += await removePartFiles(path, suffix, budget);
    else if (entry.isFile() && entry.name.endsWith(suffix)) {
      await rm(path, { force: true });
      count++;
    }
  }
  return count;
}
