import type { ApiErrorCode, ApiErrorData, JsonRpcErrorObject } from "../api/rpc/errors.js";

/** An error answered by the server (api.md §1.6); branch on `code`. */
export class SlipstreamApiError extends Error {
  override readonly name = "SlipstreamApiError";
  readonly code: ApiErrorCode;
  readonly rpcCode: number;
  readonly data: ApiErrorData;

  constructor(readonly errorObject: JsonRpcErrorObject) {
    super(errorObject.message);
    this.code = errorObject.data?.code ?? "INTERNAL";
    this.rpcCode = errorObject.code;
    this.data = errorObject.data ?? { code: "INTERNAL" };
  }
}

export type ConnectionErrorKind = "network" | "tls" | "fingerprint" | "timeout" | "http" | "protocol";

/** The server could not be reached or trusted (CLI exit status 3). */
export class SlipstreamConnectionError extends Error {
  override readonly name: string = "SlipstreamConnectionError";
  constructor(
    readonly kind: ConnectionErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The certificate differs from the pinned one: maybe an impostor, maybe a renewed certificate. */
export class FingerprintMismatchError extends SlipstreamConnectionError {
  override readonly name = "FingerprintMismatchError";
  constructor(
    readonly hostPort: string,
    readonly expected: string,
    readonly actual: string,
    source: string,
  ) {
    super(
      "fingerprint",
      `certificate fingerprint of ${hostPort} has changed: expected ${expected} (${source}), got ${actual}. ` +
        "If the server's certificate was renewed, accept the new one with --fingerprint " +
        actual,
    );
  }
}
