/**
 * How the sending server sends a copy (server.md §5, §9, §10): `--relay` (the destination's
 * sender-side relay) and `--no-encryption` (an unencrypted session, which needs a sending
 * server that runs with `--cipher none --min-cipher none` and carries no receive token).
 */
import { isIPv6 } from "node:net";
import { InvalidArgumentError } from "commander";
import type { SlipstreamClient } from "../../../client/client.js";
import { CliExit, EXIT, usageError } from "../../exit.js";
import type { CopyRoute } from "./operands.js";
import type { CpOptions, RelayChoice } from "./options.js";

/** The relay's control port when `--relay` names none (server.md §9). */
export const DEFAULT_RELAY_PORT = 8887;

/** `--relay host[:port]`, `[v6addr]:port` or a bare IPv6 address; `""` sends directly. */
export function parseRelay(text: string): RelayChoice {
  if (text === "" || isIPv6(text)) return { host: text, port: null };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (m === null) throw new InvalidArgumentError('expected host[:port], [IPv6]:port, or "" to send directly');
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) throw new InvalidArgumentError("port out of range");
  return { host: m[1] ?? m[2]!, port };
}

/** Whether the copy goes through a sender-side relay that `--relay` names. */
export function relayed(o: CpOptions): boolean {
  return o.relay !== undefined && o.relay.host !== "";
}

/** The destination settings `--relay` gives (none without it: the server's default). */
export function relaySettings(o: CpOptions): { relayHost?: string; relayPort?: number } {
  if (o.relay === undefined) return {};
  if (o.relay.host === "") return { relayHost: "" };
  return { relayHost: o.relay.host, relayPort: o.relay.port ?? DEFAULT_RELAY_PORT };
}

const TOKENS_NEED_ENCRYPTION = "tokens only travel in encrypted sessions";

/**
 * Usage errors (exit 2) for `--no-encryption` where it cannot work: with a relay, with `user@`
 * or `--remote-token` on the receiving side, and for copies into a local path, which cp always
 * receives with an upload token it makes on the local server.
 */
export function checkSendingOptions(route: CopyRoute, o: CpOptions): void {
  if (o.encryption) return;
  if (relayed(o))
    throw usageError(
      "slipstream cp: --no-encryption cannot be used with --relay: relays only carry encrypted sessions",
    );
  if (route.direction === "download" || route.direction === "link") {
    throw usageError(
      `slipstream cp: --no-encryption cannot copy to a local path: cp receives it with an upload token on the local server, and ${TOKENS_NEED_ENCRYPTION}`,
    );
  }
  const target = route.target;
  if (target.user !== null) {
    throw usageError(
      `slipstream cp: --no-encryption cannot be used with ${target.user}@${target.host}: the upload token cp makes there would travel unencrypted, and ${TOKENS_NEED_ENCRYPTION}`,
    );
  }
  // in hostA:path → hostB:path, --remote-token is hostB's receive token only when hostA has user@
  const receivingToken = route.direction === "upload" || route.server.user !== null;
  if (o.remoteToken !== undefined && receivingToken) {
    throw usageError(
      `slipstream cp: --no-encryption cannot be used with --remote-token on the receiving side: ${TOKENS_NEED_ENCRYPTION}`,
    );
  }
}

/**
 * With `--no-encryption`, the sending server must be able to send unencrypted: one whose
 * `minCipher` is not `none` encrypts every session (server.md §10). Exit 1 otherwise. (Its
 * `--cipher` must be `none` too, which getServerInfo does not show: runTransfer warns afterwards
 * when the session was encrypted all the same.)
 */
export async function requireUnencryptedSender(api: SlipstreamClient): Promise<void> {
  const info = await api.call("getServerInfo", {});
  if (info.minCipher === "none") return;
  throw new CliExit(
    EXIT.FAILED,
    `slipstream cp: --no-encryption: the sending server at ${api.host}:${api.port} encrypts every session (--min-cipher ${info.minCipher}); it needs --cipher none --min-cipher none`,
  );
}
