/**
 * The server's receive side plugged in as an extension: one UdpReceiver per `--recv-port`,
 * answering handshakes with this server's identity and key (plain senders are refused unless
 * `--min-cipher none`), the allow-list of sender keys, and the recv.* methods. The work is in
 * `server/recv/` (RecvService); transfers are written as the user bound to the sender's key, or
 * `anonymous` (only with `--recv-allow-anonymous`, which needs a sandbox).
 */
import { join } from "node:path";
import type { ServerExtension, ServerHandle } from "../../api/extension.js";
import { registerRecvMethods } from "../../api/methods/recv-methods.js";
import type { RecvPort } from "../../api/schema/structures.js";
import type { RelayedTransport } from "../../io/relay/relayed-transport.js";
import { garbageCollectorOf, recvCollector } from "../gc/index.js";
import { RecvService } from "../recv/recv-service.js";
import { ReceiveRelay } from "./receive-relay.js";

export { ANONYMOUS_USER } from "../recv/recv-records.js";

export class ReceiveConfigurationError extends Error {}

export function receiveService(): ServerExtension {
  let service: RecvService | null = null;
  let relay: ReceiveRelay | null = null;
  return {
    name: "receive",
    async start(server: ServerHandle): Promise<void> {
      const o = server.state.options;
      if (o.recvAllowAnonymous && !o.sandboxDir) {
        throw new ReceiveConfigurationError(
          "--recv-allow-anonymous needs --sandbox-dir: anonymous data must land in a sandbox",
        );
      }
      // records ended later get their expiryTime from the GC setting in force now
      const recv = new RecvService(
        server.state,
        garbageCollectorOf(server.state).current.recvTransferExpirySeconds,
      );
      service = recv;
      relay = ReceiveRelay.open(o, server.state.serverKey, server.state.logger);
      const transports = new Map<number, RelayedTransport>();
      registerRecvMethods(server.registry, recv);
      const checkpointDir = (port: number) => join(server.state.stateDir.path, "checkpoints", String(port));
      garbageCollectorOf(server.state).register(
        recvCollector(recv.records, {
          checkpointDirs: () => o.recvPorts.map(checkpointDir),
          logger: server.state.logger,
        }),
      );
      await recv.open(
        o.recvPorts,
        {
          host: o.recvHost ?? "0.0.0.0",
          // every transfer gets its root from the admission (the receiving user's sandbox)
          root: "/",
          identity: { serverId: server.serverId, serverUid: server.serverUid },
          config: {
            datagramSize: o.datagramSize,
            keepaliveInterval: o.keepaliveInterval * 1e6,
            peerTimeout: o.peerTimeout * 1e6,
          },
          checkpointIntervalMs: Math.max(1, o.checkpointFrequency) * 1000,
          recvBufferSize: o.socketRecvBuffer,
          sendBufferSize: o.socketSendBuffer,
        },
        checkpointDir,
        relay
          ? (port) => {
              const transport = relay!.transport(port);
              transports.set(port, transport);
              return transport;
            }
          : undefined,
      );
      if (relay) {
        // wait (bounded) for the relay to open the public ports, so runtime.json and the log
        // name them; a relay that is down only delays the start, the link keeps redialling
        await Promise.race([
          Promise.allSettled([...transports.values()].map((t) => t.opened)),
          new Promise((resolve) => setTimeout(resolve, 5000).unref()),
        ]);
      }
      const ports = (): RecvPort[] =>
        recv.receivers.map((r) =>
          relay
            ? {
                host: r.address.address,
                port: r.address.port,
                publicAddress: `${r.address.address}:${r.address.port}`,
                relayHost: relay.host,
                relayPort: relay.port,
                relayState: relay.state,
              }
            : {
                host: r.address.address,
                port: r.address.port,
                publicAddress: `${o.externalAddress?.split(":")[0] ?? r.address.address}:${r.address.port}`,
                relayHost: null,
                relayPort: null,
                relayState: null,
              },
        );
      server.setEngineInfo({
        receiver: (authenticated) => ({
          activeTransferCount: authenticated
            ? recv.receivers.reduce((a, r) => a + r.stats().activeTransfers, 0)
            : null,
          allowAnonymous: o.recvAllowAnonymous,
          maxIncomingTransfers: o.maxIncomingTransfers,
          onlyAuthorizedClientsAllowed: recv.clients.onlyAuthorizedAllowed,
          recvPorts: ports(),
        }),
      });
    },
    async stop(): Promise<void> {
      await service?.stop();
      service = null;
      await relay?.close();
      relay = null;
    },
  };
}
