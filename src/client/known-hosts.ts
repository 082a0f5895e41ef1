import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../server/fs-util.js";

export function defaultKnownHostsPath(): string {
  return join(homedir(), ".slipstream", "known_hosts");
}

/** `host:port` with IPv6 hosts in brackets: the key of a known_hosts line. */
export function hostPortKey(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Pinned certificate fingerprints, one `host:port sha256-hex` per line (trust on first use,
 * api.md §1.1). A null path keeps the pins in memory only.
 */
export class KnownHosts {
  private readonly memory = new Map<string, string>();

  constructor(readonly path: string | null = defaultKnownHostsPath()) {}

  private readAll(): Map<string, string> {
    if (this.path === null) return new Map(this.memory);
    const entries = new Map<string, string>();
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return entries;
    }
    for (const line of text.split("\n")) {
      const [key, fingerprint] = line.trim().split(/\s+/);
      if (key && fingerprint && !key.startsWith("#")) entries.set(key, fingerprint.toLowerCase());
    }
    return entries;
  }

  get(hostPort: string): string | null {
    return this.readAll().get(hostPort) ?? null;
  }

  set(hostPort: string, fingerprint: string): void {
    if (this.path === null) {
      this.memory.set(hostPort, fingerprint);
      return;
    }
    const entries = this.readAll();
    entries.set(hostPort, fingerprint);
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const text = [...entries].map(([key, value]) => `${key} ${value}`).join("\n") + "\n";
    writeFileAtomic(this.path, text, 0o600);
  }
}
