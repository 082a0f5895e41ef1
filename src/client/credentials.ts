import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The first-start admin password of a state dir (server.md §2.3), or null when unreadable. */
export function readAdminPassword(stateDir: string): string | null {
  try {
    const password = readFileSync(join(stateDir, "admin.password"), "utf8").trim();
    return password.length > 0 ? password : null;
  } catch {
    return null;
  }
}

/** Loopback host names and addresses: where the local admin password may be used. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
