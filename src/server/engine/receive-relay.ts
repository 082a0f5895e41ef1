/**
 * A receiving server behind a firewall (server.md §9): it dials out to its receive-side relay
 * (`--recv-relay-host`), which opens public UDP ports on its behalf and forwards datagrams over
 * the server's own outbound path. Each receive port then reads and writes through a relayed
 * transport instead of its own socket, and advertises the relay's public address.
 */
import type { StaticKeyPair } from "../../core/crypto/keys.js";
import { RelayLink, type RelayLinkState } from "../../io/relay/relay-link.js";
import type { RelayedTransport } from "../../io/relay/relayed-transport.js";
import type { ServerOptions } from "../options/definitions.js";
import type { Logger } from "../logger.js";

export class ReceiveRelay {
  private constructor(
    readonly link: RelayLink,
    readonly host: string,
    readonly port: number,
  ) {}

  /** null when the server has no receive-side relay. */
  static open(options: ServerOptions, keyPair: StaticKeyPair, logger: Logger): ReceiveRelay | null {
    if (!options.recvRelayHost) return null;
    const host = options.recvRelayHost;
    const port = options.recvRelayPort;
    const link = RelayLink.open({
      relayHost: host,
      relayPort: port,
      keyPair,
      ...(options.recvRelayKey ? { relayPublicKey: options.recvRelayKey } : {}),
      keepaliveMs: options.keepaliveInterval * 1000,
      onStateChange: (state, error) =>
        logger.info(
          { component: "relay", relay: `${host}:${port}`, state, error: error?.message },
          "receive relay link",
        ),
    });
    return new ReceiveRelay(link, host, port);
  }

  /** The relayed transport of receive port `port` (0: the relay picks); opens as the link attaches. */
  transport(port: number): RelayedTransport {
    return this.link.publicPort(port);
  }

  /** `connecting`, `connected`, `tunnelled` or `disconnected`, for RecvPort.relayState */
  get state(): RelayLinkState {
    return this.link.state;
  }

  /** where senders should send for a relayed port: the relay's public address */
  publicAddress(transport: RelayedTransport): string {
    const a = transport.localAddress;
    return `${a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}
