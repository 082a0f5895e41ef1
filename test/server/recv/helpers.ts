/** Shared pieces of the receiving-side tests: a receiving server, a keyed UdpSender, polling. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { generateKeyPair, type StaticKeyPair } from "../../../src/core/crypto/keys.js";
import { UdpSender } from "../../../src/io/drivers/udp-sender.js";
import { formatPublicKey } from "../../../src/io/keys.js";
import { newId } from "../../../src/server/ids.js";
import type { ServerOptions } from "../../../src/server/options/definitions.js";
import { receiveService } from "../../../src/server/engine/receive-service.js";
import type { EventLogEntry } from "../../../src/server/event-log.js";
import { SlipstreamApiError } from "../../../src/client/errors.js";
import type { SlipstreamClient } from "../../../src/client/client.js";
import { readAdminPassword } from "../../../src/client/credentials.js";
import { startTestServer, type TestServer } from "../../api/helpers.js";

export interface Receiving {
  base: string;
  server: TestServer;
  port: number;
  events: EventLogEntry[];
  /** a client logged in as admin (elevated when asked), also on a state dir given in the overrides */
  admin(elevate?: boolean): Promise<SlipstreamClient>;
  stop(): Promise<void>;
}

export async function tempBase(): Promise<string> {
  return mkdtemp(join(tmpdir(), "slipstream-recvtest-"));
}

/** A receiving server with a `%u` sandbox under `base`; its events are collected. */
export async function receiving(base: string, overrides: Partial<ServerOptions> = {}): Promise<Receiving> {
  const server = await startTestServer(
    { recvPorts: [0], sandboxDir: join(base, "sandbox", "%u"), ...overrides },
    { extensions: [receiveService()] },
  );
  const events: EventLogEntry[] = [];
  server.handle.events.onEvent((e) => events.push(e));
  const password = readAdminPassword(overrides.stateDir ?? server.stateDir) ?? "";
  const admin = async (elevate = false) => {
    const client = server.client();
    await client.login("admin", password);
    if (elevate) await client.superuser();
    return client;
  };
  const c = await admin();
  const info = (await c.call("getServerInfo", {})) as { receiver: { recvPorts: Array<{ port: number }> } };
  return {
    base,
    server,
    port: info.receiver.recvPorts[0]!.port,
    events,
    admin,
    stop: () => server.stop(),
  };
}

export interface KeyedSender {
  sender: UdpSender;
  keyPair: StaticKeyPair;
  publicKey: string;
  serverUid: string;
}

/** A sender with its own key and identity (as a sending server has), at `bytesPerSecond` fixed. */
export async function keyedSender(port: number, bytesPerSecond = 200e6 / 8): Promise<KeyedSender> {
  const keyPair = generateKeyPair();
  const serverUid = newId();
  const sender = await UdpSender.open({
    host: "127.0.0.1",
    port,
    identity: { serverId: newId(), serverUid },
    security: { keyPair },
    config: { rateControlMethod: "fixed", sendRate: bytesPerSecond },
  });
  return { sender, keyPair, publicKey: formatPublicKey(keyPair.publicKey), serverUid };
}

export async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

export async function expectError(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SlipstreamApiError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

export function named(events: EventLogEntry[], name: string): EventLogEntry[] {
  return events.filter((e) => e._event === name);
}

export async function cleanup(base: string): Promise<void> {
  await rm(base, { recursive: true, force: true });
}
