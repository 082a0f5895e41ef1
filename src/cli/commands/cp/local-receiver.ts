/**
 * The local server as the receiver of a download (server.md §5, rows "host:path → local" and
 * "link → local"): the address the remote sender should use, the local public key, and a
 * 24-hour `upload` token confined to the local target directory.
 */
import { createSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIPv6 } from "node:net";
import type { SlipstreamClient } from "../../../client/client.js";
import { CliExit, EXIT } from "../../exit.js";
import type { Cleanups } from "./cleanups.js";
import type { CpOptions } from "./options.js";
import { makeUploadToken } from "./remote-api.js";

export interface LocalReceiver {
  address: string;
  port: number;
  publicKey: string | null;
  token: { token: string; password: null };
}

/** `host:port` with an IPv6 host unbracketed or bracketed. */
function splitHostPort(hostPort: string): { host: string; port: number } {
  const at = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(hostPort.slice(at + 1)) };
}

/**
 * The local address this host uses toward `host`:`port` (the address the remote sees cp's own
 * connection come from). A connected UDP socket asks the routing table without sending anything.
 */
export async function localAddressToward(host: string, port: number, ipv4Only: boolean): Promise<string> {
  const remote = await lookup(host, ipv4Only && !isIPv6(host) ? { family: 4 } : {});
  const socket = createSocket(remote.family === 6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(port, remote.address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/**
 * Prepares the local server (`local`) to receive a download from the server whose API is at
 * `remote` into `directory` (a virtual path of the local user's view): the target directory, an
 * upload token for it (deleted by `cleanups`), and the receive address: the local
 * `publicAddress` when a relay or --external-address supplies it, otherwise the local IP toward
 * the remote with the local receive port.
 */
export async function prepareLocalReceiver(
  local: SlipstreamClient,
  remote: { host: string; port: number },
  directory: string,
  o: CpOptions,
  cleanups: Cleanups,
): Promise<LocalReceiver> {
  const info = await local.call("getServerInfo", {});
  const recv = info.receiver.recvPorts[0];
  if (recv === undefined) {
    throw new CliExit(
      EXIT.FAILED,
      "slipstream cp: the local server receives on no UDP port; start it with --recv-port to download",
    );
  }
  let address: string;
  let port: number;
  if (recv.relayHost !== null || info.externalAddress !== null) {
    ({ host: address, port } = splitHostPort(recv.publicAddress));
  } else {
    address = await localAddressToward(remote.host, remote.port, !recv.host.includes(":"));
    port = recv.port;
  }
  const created = await makeUploadToken(local, directory, "slipstream cp (download)", cleanups);
  return {
    address,
    port,
    publicKey: o.publicKey ?? info.publicKey,
    token: { token: created.token, password: null },
  };
}
