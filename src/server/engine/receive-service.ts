/**
 * The server's receive side: one UdpReceiver per `--recv-port`, answering handshakes with this
 * server's identity (so senders see its serverId/serverUid) and writing transfers under the
 * sandbox. Until sender authorisation exists (the encryption work), every transfer is anonymous:
 * refused unless `--recv-allow-anonymous` is on, which itself needs a sandbox.
 */
import { join, resolve } from "node:path";
import type { ServerExtension, ServerHandle } from "../../api/extension.js";
import type { RecvPort } from "../../api/schema/structures.js";
import { UdpReceiver } from "../../io/drivers/udp-receiver.js";

export const ANONYMOUS_USER = "anonymous";

export class ReceiveConfigurationError extends Error {}

export function receiveService(): ServerExtension {
  const receivers: UdpReceiver[] = [];
  return {
    name: "receive",
    async start(server: ServerHandle): Promise<void> {
      const o = server.state.options;
      if (o.recvAllowAnonymous && !o.sandboxDir) {
        throw new ReceiveConfigurationError(
          "--recv-allow-anonymous needs --sandbox-dir: anonymous data must land in a sandbox",
        );
      }
      const root = o.sandboxDir
        ? resolve(o.sandboxDir.replaceAll("%u", ANONYMOUS_USER).replaceAll("%%", "%"))
        : "/";
      const host = o.recvHost ?? "0.0.0.0";
      for (const port of o.recvPorts) {
        receivers.push(
          await UdpReceiver.open({
            host,
            port,
            root,
            identity: { serverId: server.serverId, serverUid: server.serverUid },
            config: {
              datagramSize: o.datagramSize,
              keepaliveInterval: o.keepaliveInterval * 1e6,
              peerTimeout: o.peerTimeout * 1e6,
            },
            checkpointDir: join(server.state.stateDir.path, "checkpoints", String(port)),
            checkpointIntervalMs: Math.max(1, o.checkpointFrequency) * 1000,
            recvBufferSize: o.socketRecvBuffer,
            sendBufferSize: o.socketSendBuffer,
            admitTransfer: () =>
              o.recvAllowAnonymous
                ? null
                : {
                    code: "RECEIVER_REFUSED",
                    message:
                      "this server does not accept anonymous transfers (--recv-allow-anonymous is off)",
                  },
          }),
        );
      }
      const ports = (): RecvPort[] =>
        receivers.map((r) => ({
          host: r.address.address,
          port: r.address.port,
          publicAddress: `${o.externalAddress?.split(":")[0] ?? r.address.address}:${r.address.port}`,
          relayHost: null,
          relayPort: null,
          relayState: null,
        }));
      server.setEngineInfo({
        receiver: (authenticated) => ({
          activeTransferCount: authenticated
            ? receivers.reduce((a, r) => a + r.stats().activeTransfers, 0)
            : null,
          allowAnonymous: o.recvAllowAnonymous,
          maxIncomingTransfers: o.maxIncomingTransfers,
          onlyAuthorizedClientsAllowed: o.recvOnlyAuthorizedClients ?? false,
          recvPorts: ports(),
        }),
      });
    },
    async stop(): Promise<void> {
      await Promise.all(receivers.map((r) => r.close()));
      receivers.length = 0;
    },
  };
}
