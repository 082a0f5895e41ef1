import { request, type IncomingHttpHeaders } from "node:http";
import type { TLSSocket } from "node:tls";
import { SlipstreamConnectionError } from "./errors.js";

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request over an already verified TLS socket. With `reuse`, the socket is kept open
 * (HTTP keep-alive) and handed to `reuse` once the response is complete, unless the server
 * asked to close it; otherwise it is closed.
 */
export function httpRequest(
  socket: TLSSocket,
  opts: {
    host: string;
    port: number;
    method: string;
    path: string;
    headers: Record<string, string>;
    body: string | Buffer | null;
  },
  timeoutMs: number | null,
  reuse?: (socket: TLSSocket) => void,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({
      createConnection: () => socket,
      method: opts.method,
      path: opts.path,
      headers: {
        Host: `${opts.host}:${opts.port}`,
        Connection: reuse ? "keep-alive" : "close",
        ...opts.headers,
      },
    });
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== null) {
      timer = setTimeout(() => {
        req.destroy();
        reject(
          new SlipstreamConnectionError(
            "timeout",
            `no answer from ${opts.host}:${opts.port} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    }
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(
        new SlipstreamConnectionError(
          "network",
          `request to ${opts.host}:${opts.port} failed: ${error.message}`,
        ),
      );
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (error) => reject(new SlipstreamConnectionError("network", error.message)));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        const closing = res.headers.connection?.toLowerCase() === "close";
        if (reuse && !closing && !socket.destroyed) setImmediate(() => reuse(socket));
        else socket.destroy();
      });
    });
    req.end(opts.body ?? undefined);
  });
}
