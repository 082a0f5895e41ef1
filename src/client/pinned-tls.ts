import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { FingerprintMismatchError, SlipstreamConnectionError } from "./errors.js";
import { hostPortKey, type KnownHosts } from "./known-hosts.js";

export interface PinPolicy {
  knownHosts: KnownHosts;
  /** accept only this fingerprint (and record it) */
  fingerprint: string | null;
  /** told when a host's fingerprint is recorded for the first time */
  onFirstUse?: (hostPort: string, fingerprint: string) => void;
}

export function normalizeFingerprint(text: string): string {
  return text.replace(/[:\s]/g, "").toLowerCase();
}

/** Decide whether `actual` is acceptable for `hostPort`; records it on first use. */
export function checkFingerprint(hostPort: string, actual: string, policy: PinPolicy): void {
  if (policy.fingerprint !== null) {
    const wanted = normalizeFingerprint(policy.fingerprint);
    if (actual !== wanted) throw new FingerprintMismatchError(hostPort, wanted, actual, "--fingerprint");
    if (policy.knownHosts.get(hostPort) !== actual) policy.knownHosts.set(hostPort, actual);
    return;
  }
  const known = policy.knownHosts.get(hostPort);
  if (known === null) {
    policy.knownHosts.set(hostPort, actual);
    policy.onFirstUse?.(hostPort, actual);
    return;
  }
  if (known !== actual) {
    throw new FingerprintMismatchError(hostPort, known, actual, policy.knownHosts.path ?? "pinned in memory");
  }
}

/**
 * Open a TLS connection and check the server certificate's SHA-256 fingerprint before anything
 * (a session key, a password) is written to it.
 */
export function connectPinned(
  host: string,
  port: number,
  policy: PinPolicy,
  timeoutMs: number | null,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      rejectUnauthorized: false, // self-signed: trust comes from the pinned fingerprint
      servername: isIP(host) === 0 ? host : undefined,
      ALPNProtocols: ["http/1.1"],
    });
    let timer: NodeJS.Timeout | undefined;
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    if (timeoutMs !== null) {
      timer = setTimeout(
        () => fail(new SlipstreamConnectionError("timeout", `connecting to ${host}:${port} timed out`)),
        timeoutMs,
      );
    }
    socket.once("error", (error) =>
      fail(new SlipstreamConnectionError("network", `cannot connect to ${host}:${port}: ${error.message}`)),
    );
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const certificate = socket.getPeerX509Certificate();
      if (!certificate)
        return fail(new SlipstreamConnectionError("tls", `${host}:${port} sent no certificate`));
      const actual = createHash("sha256").update(certificate.raw).digest("hex");
      try {
        checkFingerprint(hostPortKey(host, port), actual, policy);
      } catch (error) {
        return fail(error instanceof Error ? error : new Error(String(error)));
      }
      socket.removeAllListeners("error");
      socket.on("error", () => undefined); // the HTTP or WebSocket layer reports errors from here on
      resolve(socket);
    });
  });
}
