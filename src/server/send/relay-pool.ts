/**
 * The sender-side relays this server sends through: one authenticated RelayLink per relay
 * (host and port), shared by every destination that uses it (server.md §9).
 */
import type { StaticKeyPair } from "../../core/crypto/keys.js";
import { RelayLink } from "../../io/relay/relay-link.js";

export class RelayPool {
  private readonly links = new Map<string, RelayLink>();

  constructor(
    private readonly keyPair: StaticKeyPair,
    private readonly options: { relayPublicKey: string | null; keepaliveMs: number },
  ) {}

  get(host: string, port: number): RelayLink {
    const key = `${host.toLowerCase()}:${port}`;
    let link = this.links.get(key);
    if (!link) {
      link = RelayLink.open({
        relayHost: host,
        relayPort: port,
        keyPair: this.keyPair,
        ...(this.options.relayPublicKey ? { relayPublicKey: this.options.relayPublicKey } : {}),
        keepaliveMs: this.options.keepaliveMs,
      });
      this.links.set(key, link);
    }
    return link;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
    this.links.clear();
  }
}
