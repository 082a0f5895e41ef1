import type { TLSSocket } from "node:tls";
import WebSocket from "ws";
import type { JsonRpcErrorObject } from "../api/rpc/errors.js";
import { SlipstreamConnectionError } from "./errors.js";

export interface RpcReply {
  id: string | number | null;
  result?: unknown;
  error?: JsonRpcErrorObject;
}

export interface ServerNotification {
  method: string;
  params: unknown;
}

/** A JSON-RPC channel over a WebSocket: replies matched by id, notifications handed to a listener. */
export class WsChannel {
  private readonly pending = new Map<
    string | number,
    { resolve: (reply: RpcReply) => void; reject: (error: Error) => void }
  >();
  private closedError: Error | null = null;

  private constructor(
    private readonly ws: WebSocket,
    private readonly onNotification: (notification: ServerNotification) => void,
  ) {
    ws.on("message", (data) => this.receive(data.toString()));
    ws.on("close", (code, reason) => {
      this.closedError = new SlipstreamConnectionError(
        "network",
        `WebSocket closed (${code} ${reason.toString()})`,
      );
      for (const waiter of this.pending.values()) waiter.reject(this.closedError);
      this.pending.clear();
    });
    ws.on("error", () => undefined);
  }

  static open(
    socket: TLSSocket,
    url: string,
    headers: Record<string, string>,
    onNotification: (notification: ServerNotification) => void,
  ): Promise<WsChannel> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { createConnection: () => socket, headers, perMessageDeflate: false });
      ws.once("open", () => resolve(new WsChannel(ws, onNotification)));
      ws.once("unexpected-response", (_req, res) =>
        reject(
          new SlipstreamConnectionError(
            "http",
            `WebSocket upgrade refused: HTTP ${res.statusCode}`,
            res.statusCode,
          ),
        ),
      );
      ws.once("error", (error) =>
        reject(new SlipstreamConnectionError("network", `WebSocket failed: ${error.message}`)),
      );
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Send one request (or a batch) and wait for the reply with `id` (the first id of a batch). */
  request(message: unknown, id: string | number): Promise<RpcReply> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(message), (error) => {
        if (error) {
          this.pending.delete(id);
          reject(new SlipstreamConnectionError("network", error.message));
        }
      });
    });
  }

  close(): void {
    this.ws.close(1000);
  }

  private receive(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const replies = Array.isArray(message) ? message : [message];
    for (const reply of replies as Record<string, unknown>[]) {
      if (typeof reply !== "object" || reply === null) continue;
      if (typeof reply.method === "string" && !("id" in reply)) {
        this.onNotification({ method: reply.method, params: reply.params });
        continue;
      }
      const id = reply.id as string | number | null;
      const waiter = id === null ? undefined : this.pending.get(id);
      if (waiter && id !== null) {
        this.pending.delete(id);
        waiter.resolve(reply as unknown as RpcReply);
      }
    }
  }
}
