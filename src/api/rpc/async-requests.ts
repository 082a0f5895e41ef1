import type { Clock } from "../../server/clock.js";
import { newId } from "../../server/ids.js";
import type { SessionRecord } from "../auth/sessions.js";
import type { RequestStatus } from "../schema/structures.js";
import { ApiError, type JsonRpcErrorObject } from "./errors.js";

interface RequestRecord {
  readonly requestId: string;
  readonly method: string;
  /** user the request belongs to; null = made without a session (anyone holding the id) */
  readonly owner: string | null;
  readonly creationTime: number;
  endTime: number | null;
  status: "processing" | "complete" | "error";
  result: unknown;
  error: JsonRpcErrorObject | null;
  readonly done: Promise<void>;
}

/**
 * Records of `…Async` calls (api.md §1.5): kept in memory until `expirySeconds()` after they end
 * (the GC setting `requestExpirySeconds`), never across a restart.
 */
export class AsyncRequestStore {
  private readonly records = new Map<string, RequestRecord>();

  constructor(
    private readonly clock: Clock,
    private readonly expirySeconds: () => number = () => 3600,
  ) {}

  /** Start `run` in the background; `toError` turns whatever it throws into an error object. */
  start(
    method: string,
    owner: string | null,
    run: () => Promise<unknown>,
    toError: (error: unknown) => JsonRpcErrorObject,
  ): string {
    const requestId = newId();
    let finish!: () => void;
    const record: RequestRecord = {
      requestId,
      method,
      owner,
      creationTime: this.clock.nowMicros(),
      endTime: null,
      status: "processing",
      result: undefined,
      error: null,
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    this.records.set(requestId, record);
    void (async () => {
      try {
        record.result = (await run()) ?? null;
        record.status = "complete";
      } catch (error) {
        record.error = toError(error);
        record.status = "error";
      }
      record.endTime = this.clock.nowMicros();
      finish();
    })();
    return requestId;
  }

  private expiryTime(record: RequestRecord): number | null {
    const seconds = this.expirySeconds();
    if (record.endTime === null || seconds === 0) return null;
    return record.endTime + seconds * 1_000_000;
  }

  /** The record, if it exists, has not expired and `caller` may see it; NOT_FOUND otherwise. */
  private find(requestId: string, caller: SessionRecord | null): RequestRecord {
    const record = this.records.get(requestId);
    const expiry = record ? this.expiryTime(record) : null;
    if (record && expiry !== null && this.clock.nowMicros() >= expiry) this.records.delete(requestId);
    const visible =
      record !== undefined &&
      this.records.has(requestId) &&
      (record.owner === null || (caller !== null && (caller.user === record.owner || caller.superuser)));
    if (!visible) throw ApiError.notFound(`unknown or expired request ${requestId}`, requestId);
    return record;
  }

  status(requestId: string, caller: SessionRecord | null): RequestStatus {
    const record = this.find(requestId, caller);
    return {
      requestId: record.requestId,
      method: record.method,
      processing: record.status === "processing",
      status: record.status,
      errorMessage: record.error?.message ?? "",
      error: record.error,
      creationTime: record.creationTime,
      endTime: record.endTime,
      expiryTime: this.expiryTime(record),
    };
  }

  /** Wait (at most `timeoutSeconds`, null = until done) and return the result or raise the error. */
  async result(
    requestId: string,
    caller: SessionRecord | null,
    timeoutSeconds: number | null,
    signal: AbortSignal,
  ): Promise<unknown> {
    const record = this.find(requestId, caller);
    if (record.status === "processing") {
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const outcome = await Promise.race([
        record.done.then(() => "done" as const),
        new Promise<"timeout">((resolve) => {
          if (timeoutSeconds !== null) timer = setTimeout(() => resolve("timeout"), timeoutSeconds * 1000);
        }),
        new Promise<"shutdown">((resolve) => {
          onAbort = () => resolve("shutdown");
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
      if (outcome === "timeout") {
        throw new ApiError("UNAVAILABLE", `request ${requestId} is still processing`, {
          processing: true,
          id: requestId,
        });
      }
      if (outcome === "shutdown") throw new ApiError("UNAVAILABLE", "the server is shutting down");
    }
    if (record.status === "error" && record.error) throw ApiError.fromObject(record.error);
    return record.result;
  }

  /** Drop expired records (called periodically). */
  sweep(): void {
    const now = this.clock.nowMicros();
    for (const [id, record] of this.records) {
      const expiry = this.expiryTime(record);
      if (expiry !== null && now >= expiry) this.records.delete(id);
    }
  }

  get size(): number {
    return this.records.size;
  }
}
