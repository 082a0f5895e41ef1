import { ServiceError } from "../errors.js";

/**
 * Long-poll support for `waitFor…` calls: a waiter re-checks its condition whenever its object
 * is notified, and gives up at its timeout (returning normally) or at shutdown (UNAVAILABLE).
 */
export class Waiters {
  private readonly byId = new Map<string, Set<() => void>>();

  notify(id: string): void {
    for (const wake of this.byId.get(id) ?? []) wake();
  }

  /** Resolves once `done()` holds, or after `timeoutSeconds` (null = no limit). */
  until(id: string, done: () => boolean, timeoutSeconds: number | null, signal: AbortSignal): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const set = this.byId.get(id) ?? new Set<() => void>();
      this.byId.set(id, set);
      const finish = (error?: Error) => {
        set.delete(wake);
        if (set.size === 0) this.byId.delete(id);
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      };
      const wake = () => {
        if (done()) finish();
      };
      const onAbort = () => finish(new ServiceError("UNAVAILABLE", "the server is shutting down"));
      set.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
      if (timeoutSeconds !== null) timer = setTimeout(() => finish(), timeoutSeconds * 1000);
    });
  }

  clear(): void {
    for (const set of this.byId.values()) for (const wake of set) wake();
    this.byId.clear();
  }
}
