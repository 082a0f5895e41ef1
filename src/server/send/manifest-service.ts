/**
 * Manifests (api.md §3.3): created `pending` at once, scanned in the background in the owner's
 * sandbox view, then `complete` (entries stored) or `error` (message kept).
 */
import { epochMicrosNow } from "../../io/drivers/clock.js";
import { ServiceError } from "../errors.js";
import type { ServerEvents } from "../events.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import type { SandboxView } from "../sandbox.js";
import { type Caller, ownerFilter, ownershipOf, page, requireVisible } from "./caller.js";
import { type ParsedFileMapping, parseFileMappings } from "./file-mapping.js";
import { ManifestScanError, scanManifest } from "./manifest-scan.js";
import type { ManifestEntry, ManifestRecord, UserData } from "./records.js";
import type { SendStore } from "./send-store.js";
import { Waiters } from "./waiters.js";

export type MappingInput = string | { srcPath: string; destPath?: string };

export interface ManifestView extends ManifestRecord {
  processing: boolean;
  referenced: boolean;
  expiryTime: number | null;
}

export class ManifestService {
  readonly manifests = new Map<string, ManifestRecord>();
  /** the mappings of manifests still scanning, to scan again after a restart */
  private readonly scans = new Map<string, AbortController>();
  readonly waiters = new Waiters();
  /** set by the transfer service: is the manifest used by an unfinished transfer */
  isReferenced: (manifestId: string) => boolean = () => false;
  /** Manifest.expiryTime; set by the garbage collector (server/engine/send-hooks.ts) */
  expiryTimeOf: (m: ManifestRecord) => number | null = () => null;
  /** called when a manifest leaves `pending` */
  onSettled: (m: ManifestRecord) => void = () => undefined;

  constructor(
    private readonly store: SendStore,
    private readonly events: ServerEvents,
    private readonly logger: Logger,
    /** the view sources are read in: the owner's, narrowed to the token path for token objects */
    private readonly viewFor: (owner: string, ownerToken: string | null) => Promise<SandboxView>,
  ) {
    for (const m of store.loadManifests()) {
      this.manifests.set(m.manifestId, m);
      // a scan interrupted by a restart starts again
      if (m.status === "pending") this.scan(m, m.sources ?? []);
    }
  }

  create(caller: Caller, mappings: readonly MappingInput[], userData: UserData): ManifestView {
    const parsed = parseFileMappings(mappings);
    const m: ManifestRecord = {
      manifestId: newId(),
      ...ownershipOf(caller),
      creationTime: epochMicrosNow(),
      completeTime: null,
      status: "pending",
      errorMessage: "",
      filesScanned: 0,
      totalFiles: null,
      totalEmptyDirs: null,
      totalSize: null,
      userData,
      sources: parsed,
    };
    this.manifests.set(m.manifestId, m);
    this.store.saveManifest(m);
    this.events.emit("send.manifestCreated", { manifestId: m.manifestId }, m.owner);
    this.scan(m, parsed);
    return this.view(m);
  }

  private scan(m: ManifestRecord, parsed: readonly ParsedFileMapping[]): void {
    const abort = new AbortController();
    this.scans.set(m.manifestId, abort);
    void this.viewFor(m.owner, m.ownerToken)
      .then((view) =>
        scanManifest(parsed, view, {
          signal: abort.signal,
          onProgress: (n) => (m.filesScanned = n),
        }),
      )
      .then(
        (entries) => this.settle(m, "complete", "", entries),
        (error: unknown) => {
          if (abort.signal.aborted) return;
          const message = error instanceof ManifestScanError ? error.message : String(error);
          if (!(error instanceof ManifestScanError)) {
            this.logger.error(
              { component: "send", err: error, manifestId: m.manifestId },
              "manifest scan failed",
            );
          }
          this.settle(m, "error", message, []);
        },
      );
  }

  get(caller: Caller, manifestId: string): ManifestRecord {
    return requireVisible(this.manifests.get(manifestId), caller, "manifest", manifestId, "manifestId");
  }

  list(
    caller: Caller,
    o: { status?: string[]; owner?: string; offset: number; limit: number },
  ): ManifestView[] {
    const mine = ownerFilter(caller, o.owner);
    const all = [...this.manifests.values()].filter(
      (m) => mine(m) && (!o.status || o.status.includes(m.status)),
    );
    return page(all, o.offset, o.limit).map((m) => this.view(m));
  }

  files(caller: Caller, manifestId: string, offset: number, limit: number) {
    const m = this.get(caller, manifestId);
    if (m.status === "pending") {
      throw new ServiceError("CONFLICT", `manifest ${manifestId} is still being scanned`, "manifestId");
    }
    const entries = this.store.manifestEntries(manifestId, offset, limit);
    return {
      manifestId,
      offset,
      totalCount: (m.totalFiles ?? 0) + (m.totalEmptyDirs ?? 0),
      fileMappings: entries.map(({ srcPath, destPath, fileSize, mtime, isEmptyDir }) => ({
        srcPath,
        destPath,
        fileSize,
        mtime,
        isEmptyDir,
      })),
    };
  }

  async wait(caller: Caller, manifestId: string, timeoutSeconds: number | null, signal: AbortSignal) {
    const m = this.get(caller, manifestId);
    await this.waiters.until(manifestId, () => m.status !== "pending", timeoutSeconds, signal);
    return this.view(m);
  }

  delete(caller: Caller, manifestId: string): void {
    const m = this.get(caller, manifestId);
    if (this.isReferenced(manifestId)) {
      throw new ServiceError(
        "CONFLICT",
        `manifest ${manifestId} is used by an unfinished transfer`,
        "manifestId",
      );
    }
    this.scans.get(manifestId)?.abort();
    this.scans.delete(manifestId);
    this.manifests.delete(manifestId);
    this.store.deleteManifest(manifestId);
    this.events.emit("send.manifestDeleted", { manifestId, reason: "api" }, m.owner);
  }

  entries(manifestId: string): ManifestEntry[] {
    return this.store.manifestEntries(manifestId);
  }

  view(m: ManifestRecord): ManifestView {
    const { sources: _sources, ...fields } = m;
    return {
      ...fields,
      processing: m.status === "pending",
      referenced: this.isReferenced(m.manifestId),
      expiryTime: this.expiryTimeOf(m),
    };
  }

  stop(): void {
    for (const abort of this.scans.values()) abort.abort();
    this.scans.clear();
    this.waiters.clear();
  }

  private settle(
    m: ManifestRecord,
    status: "complete" | "error",
    errorMessage: string,
    entries: readonly ManifestEntry[],
  ): void {
    this.scans.delete(m.manifestId);
    if (!this.manifests.has(m.manifestId)) return;
    m.status = status;
    delete m.sources;
    m.errorMessage = errorMessage;
    m.completeTime = epochMicrosNow();
    if (status === "complete") {
      const files = entries.filter((e) => !e.isEmptyDir);
      m.totalFiles = files.length;
      m.totalEmptyDirs = entries.length - files.length;
      m.totalSize = files.reduce((a, e) => a + e.fileSize, 0);
      m.filesScanned = files.length;
      this.store.completeManifest(m, entries);
      this.events.emit(
        "send.manifestComplete",
        { manifestId: m.manifestId, totalFiles: m.totalFiles, totalSize: m.totalSize },
        m.owner,
      );
    } else {
      this.store.saveManifest(m);
      this.events.emit("send.manifestError", { manifestId: m.manifestId, errorMessage }, m.owner);
    }
    this.waiters.notify(m.manifestId);
    this.onSettled(m);
  }
}
