import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { newId } from "../../server/ids.js";
import type { Logger } from "../../server/logger.js";
import type { SessionStore } from "../auth/sessions.js";
import { serializeOutcome, type Dispatcher } from "../rpc/dispatcher.js";
import { ApiError, RPC_CODES } from "../rpc/errors.js";
import { isLoopbackAddress } from "./addresses.js";
import { callContextFor } from "./request-context.js";
import type { SubscriptionHub } from "./subscriptions.js";

export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface ApiServerOptions {
  certPem: string;
  keyPem: string;
  allowRemoteControl: boolean;
  dispatcher: Dispatcher;
  sessions: SessionStore;
  subscriptions: SubscriptionHub;
  logger: Logger;
  maxBodyBytes?: number;
}

function plain(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers });
  res.end(text + "\n");
}

/**
 * The API transport (api.md §1.1): HTTPS `POST /rpc` and a WebSocket at `/ws` carrying the same
 * JSON-RPC calls plus pushed notifications. With remote control off, non-loopback TCP connections
 * are dropped before TLS.
 */
export class ApiServer {
  readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly maxBodyBytes: number;

  constructor(private readonly opts: ApiServerOptions) {
    this.maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.server = createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
      this.handleHttp(req, res).catch((error: unknown) => {
        opts.logger.error({ component: "api", err: error }, "HTTP request failed");
        if (!res.headersSent) plain(res, 500, "internal server error");
        else res.destroy();
      });
    });
    this.server.on("connection", (socket: Socket) => {
      if (!opts.allowRemoteControl && !isLoopbackAddress(socket.remoteAddress)) socket.destroy();
    });
    this.server.on("tlsClientError", (error) =>
      opts.logger.debug({ component: "api", err: error }, "TLS handshake failed"),
    );
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxBodyBytes });
    this.server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on("error", () => undefined);
      if ((req.url ?? "").split("?")[0] !== "/ws") {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.handleWebSocket(ws, req));
    });
  }

  listen(host: string | null, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen({ host: host ?? undefined, port }, () => {
        this.server.off("error", onError);
        const address = this.server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Close every WebSocket (1001) and HTTP connection and stop listening. */
  async close(): Promise<void> {
    for (const client of this.wss.clients) client.close(1001, "server shutting down");
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // give responses in flight (terminate's own answer) a moment before cutting connections
      setTimeout(() => {
        this.server.closeAllConnections();
        for (const client of this.wss.clients) client.terminate();
      }, 200).unref();
    });
    this.wss.close();
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on("error", () => undefined);
    if ((req.url ?? "").split("?")[0] !== "/rpc")
      return plain(res, 404, "not found: the API is at POST /rpc and /ws");
    if (req.method !== "POST") return plain(res, 405, "use POST", { Allow: "POST" });
    if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? "")) {
      return plain(res, 415, "Content-Type must be application/json");
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > this.maxBodyBytes) return this.tooLarge(req, res);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxBodyBytes) return this.tooLarge(req, res);
      chunks.push(chunk);
    }
    const ctx = callContextFor(req, this.opts.sessions, "http", null);
    const outcome = await this.opts.dispatcher.handleText(Buffer.concat(chunks).toString("utf8"), ctx);
    if (outcome === null) {
      res.writeHead(204);
      res.end();
      return;
    }
    const body = serializeOutcome(outcome, this.opts.logger);
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse): void {
    plain(res, 413, `request body larger than ${this.maxBodyBytes} bytes`, { Connection: "close" });
    res.on("finish", () => req.socket.destroy());
  }

  private handleWebSocket(ws: WebSocket, req: IncomingMessage): void {
    const socketId = newId();
    const ctx = callContextFor(req, this.opts.sessions, "websocket", socketId);
    const { subscriptions, dispatcher, logger } = this.opts;
    subscriptions.attach({
      id: socketId,
      send: (text, done) => {
        if (ws.readyState !== ws.OPEN) return done(new Error("closed"));
        ws.send(text, (error) => done(error ?? undefined));
      },
      bufferedAmount: () => ws.bufferedAmount,
      isOpen: () => ws.readyState === ws.OPEN,
    });
    ws.on("error", (error) => logger.debug({ component: "api", err: error }, "WebSocket error"));
    ws.on("close", () => subscriptions.detach(socketId));
    ws.on("message", (data, isBinary) => {
      const reply = (text: string) => {
        if (ws.readyState === ws.OPEN) ws.send(text);
      };
      if (isBinary) {
        const error = new ApiError("INVALID_ARGUMENT", "invalid request: send JSON-RPC as text frames", {
          rpcCode: RPC_CODES.INVALID_REQUEST,
        });
        return reply(JSON.stringify({ jsonrpc: "2.0", id: null, error: error.toObject() }));
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString("utf8")
        : Buffer.isBuffer(data)
          ? data.toString("utf8")
          : Buffer.from(data).toString("utf8");
      dispatcher
        .handleText(text, ctx)
        .then((outcome) => {
          if (outcome !== null) reply(serializeOutcome(outcome, logger));
        })
        .catch((error: unknown) => logger.error({ component: "api", err: error }, "WebSocket call failed"));
    });
  }
}
