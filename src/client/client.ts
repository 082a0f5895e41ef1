import type { ApiMethodName, ApiParams, ApiResult, Session } from "../api/schema/index.js";
import type { TLSSocket } from "node:tls";
import type { JsonRpcErrorObject } from "../api/rpc/errors.js";
import { readAdminPassword } from "./credentials.js";
import { SlipstreamApiError, SlipstreamConnectionError } from "./errors.js";
import { httpRequest, type HttpReply } from "./http-post.js";
import { KnownHosts } from "./known-hosts.js";
import { connectPinned, type PinPolicy } from "./pinned-tls.js";
import { WsChannel, type RpcReply, type ServerNotification } from "./ws-channel.js";

const IDLE_REUSE_MS = 2000;

export interface ClientOptions {
  /** default `localhost` */
  host?: string;
  /** default 8886 */
  port?: number;
  /** pinned fingerprints file; default `~/.slipstream/known_hosts`; null keeps pins in memory */
  knownHostsFile?: string | null;
  /** accept only this certificate fingerprint (and record it) */
  fingerprint?: string | null;
  /** sent as `Slipstream-Api-Version`; default 1 */
  apiVersion?: number | null;
  /** per request; default none */
  timeoutMs?: number | null;
  /** told when a host's fingerprint is recorded for the first time */
  onFirstUse?: (hostPort: string, fingerprint: string) => void;
}

export type NotificationListener = (notification: ServerNotification) => void;

export interface BatchCall {
  method: string;
  params?: Record<string, unknown>;
  /** send as a notification (no reply) */
  notify?: boolean;
}

export type BatchOutcome = { ok: true; result: unknown } | { ok: false; error: SlipstreamApiError };

export type { ServerNotification };

/**
 * Typed client for the Slipstream API: HTTPS POST by default, a WebSocket after
 * `connectWebSocket()` (needed for subscriptions). The server certificate is pinned on first use.
 */
export class SlipstreamClient {
  readonly host: string;
  readonly port: number;
  /** the secret of the current session, sent as `Authorization: Bearer` */
  sessionKey: string | null = null;
  session: Session | null = null;
  private readonly pins: PinPolicy;
  private readonly apiVersion: number | null;
  private readonly timeoutMs: number | null;
  private channel: WsChannel | null = null;
  /** kept-alive HTTPS connections between calls, with when each became idle */
  private idle: { socket: TLSSocket; since: number }[] = [];
  private closed = false;
  private nextId = 1;
  private readonly listeners = new Set<NotificationListener>();

  constructor(opts: ClientOptions = {}) {
    this.host = opts.host ?? "localhost";
    this.port = opts.port ?? 8886;
    this.pins = {
      knownHosts: new KnownHosts(opts.knownHostsFile === undefined ? undefined : opts.knownHostsFile),
      fingerprint: opts.fingerprint ?? null,
      onFirstUse: opts.onFirstUse,
    };
    this.apiVersion = opts.apiVersion === undefined ? 1 : opts.apiVersion;
    this.timeoutMs = opts.timeoutMs ?? null;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { ...extra };
    if (this.apiVersion !== null) headers["Slipstream-Api-Version"] = String(this.apiVersion);
    if (this.sessionKey !== null) headers.Authorization = `Bearer ${this.sessionKey}`;
    return headers;
  }

  /** A raw HTTP exchange with the API server (tests and diagnostics). */
  async httpExchange(
    method: string,
    path: string,
    body: string | Buffer | null,
    headers: Record<string, string> = { "Content-Type": "application/json" },
  ): Promise<HttpReply> {
    const socket = await connectPinned(this.host, this.port, this.pins, this.timeoutMs);
    return httpRequest(
      socket,
      { host: this.host, port: this.port, method, path, headers: this.headers(headers), body },
      this.timeoutMs,
    );
  }

  /** Takes an idle kept-alive connection, or opens a new pinned one. */
  private async rpcSocket(): Promise<TLSSocket> {
    const now = Date.now();
    while (this.idle.length > 0) {
      const { socket, since } = this.idle.pop()!;
      // the server closes idle connections after 5 s: leave a margin rather than race it
      if (!socket.destroyed && socket.writable && now - since < IDLE_REUSE_MS) {
        socket.ref();
        return socket;
      }
      socket.destroy();
    }
    return connectPinned(this.host, this.port, this.pins, this.timeoutMs);
  }

  private async post(message: unknown): Promise<unknown> {
    const socket = await this.rpcSocket();
    const reply = await httpRequest(
      socket,
      {
        host: this.host,
        port: this.port,
        method: "POST",
        path: "/rpc",
        headers: this.headers({ "Content-Type": "application/json" }),
        body: JSON.stringify(message),
      },
      this.timeoutMs,
      (kept) => {
        if (this.closed) return void kept.destroy();
        kept.unref();
        this.idle.push({ socket: kept, since: Date.now() });
      },
    );
    if (reply.status === 204) return null;
    if (reply.status !== 200) {
      throw new SlipstreamConnectionError("http", `HTTP ${reply.status}: ${reply.body.trim()}`, reply.status);
    }
    try {
      return JSON.parse(reply.body);
    } catch {
      throw new SlipstreamConnectionError("protocol", "the server answered with invalid JSON");
    }
  }

  /** Call a method; resolves with its result or rejects with SlipstreamApiError. */
  call<M extends ApiMethodName>(method: M, params?: ApiParams<M>): Promise<ApiResult<M>>;
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  async call(method: string, params?: object): Promise<unknown> {
    const id = this.nextId++;
    const message = { jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) };
    const reply = (
      this.channel?.isOpen ? await this.channel.request(message, id) : await this.post(message)
    ) as RpcReply;
    if (typeof reply !== "object" || reply === null)
      throw new SlipstreamConnectionError("protocol", "empty reply");
    if (reply.error) throw new SlipstreamApiError(reply.error);
    return reply.result;
  }

  /** Send a notification (no reply, errors are not reported). */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    await this.post({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) });
  }

  /** Several calls in one HTTP POST, executed in order; outcomes of non-notifications in order. */
  async batch(calls: readonly BatchCall[]): Promise<BatchOutcome[]> {
    const ids: number[] = [];
    const message = calls.map((c) => {
      const base = {
        jsonrpc: "2.0",
        method: c.method,
        ...(c.params === undefined ? {} : { params: c.params }),
      };
      if (c.notify) return base;
      const id = this.nextId++;
      ids.push(id);
      return { ...base, id };
    });
    const replies = ((await this.post(message)) ?? []) as RpcReply[];
    const byId = new Map(replies.map((r) => [r.id, r]));
    return ids.map((id) => {
      const reply = byId.get(id);
      if (!reply) return { ok: false, error: new SlipstreamApiError(missingReply(id)) };
      return reply.error
        ? { ok: false, error: new SlipstreamApiError(reply.error) }
        : { ok: true, result: reply.result };
    });
  }

  /** Log in with a password; later calls carry the session. */
  async login(user: string, password: string): Promise<Session> {
    const session = await this.call("auth", { user, password });
    this.sessionKey = session.sessionKey ?? null;
    this.session = session;
    return session;
  }

  /** Log in as `admin` with `<stateDir>/admin.password` (local servers). */
  async loginWithStateDir(stateDir: string): Promise<Session> {
    const password = readAdminPassword(stateDir);
    if (password === null) throw new Error(`cannot read ${stateDir}/admin.password`);
    return this.login("admin", password);
  }

  async superuser(): Promise<Session> {
    this.session = await this.call("superuser");
    return this.session;
  }

  async logout(): Promise<void> {
    await this.call("logout");
    this.sessionKey = null;
    this.session = null;
  }

  /** Switch to a WebSocket (carrying the current session, if any); needed for subscriptions. */
  async connectWebSocket(): Promise<void> {
    if (this.channel?.isOpen) return;
    const socket = await connectPinned(this.host, this.port, this.pins, this.timeoutMs);
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    this.channel = await WsChannel.open(socket, `wss://${host}:${this.port}/ws`, this.headers(), (n) => {
      for (const listener of this.listeners) listener(n);
    });
  }

  /** Listen for pushed notifications (`event`, `snapshot`, `subscriptionLost`); returns an unsubscriber. */
  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** subscribe() over the WebSocket (opened if needed); returns the subscription id. */
  async subscribe(params: ApiParams<"subscribe">, listener?: NotificationListener): Promise<string> {
    await this.connectWebSocket();
    const { subscriptionId } = await this.call("subscribe", params);
    if (listener) {
      this.onNotification((n) => {
        const p = n.params as { subscriptionId?: string } | null;
        if (p?.subscriptionId === subscriptionId) listener(n);
      });
    }
    return subscriptionId;
  }

  /** Close the WebSocket, if open (the session stays valid). */
  close(): void {
    this.closed = true;
    this.channel?.close();
    this.channel = null;
    for (const { socket } of this.idle) socket.destroy();
    this.idle = [];
  }
}

function missingReply(id: number): JsonRpcErrorObject {
  return { code: -32603, message: `no reply for call ${id}`, data: { code: "INTERNAL" } };
}
