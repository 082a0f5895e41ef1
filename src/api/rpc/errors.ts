/**
 * API errors (api.md §1.6): JSON-RPC error objects whose `data.code` is a stable string. This
 * module is shared by the server and the client library and depends on nothing else.
 */

export const API_ERROR_CODES = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "AUTH_REQUIRED",
  "AUTH_FAILED",
  "FORBIDDEN",
  "NOT_SUPERUSER",
  "CONFLICT",
  "API_VERSION_MISMATCH",
  "UNAVAILABLE",
  "INTERNAL",
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** JSON-RPC numeric codes of api.md §1.6. */
export const RPC_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  AUTH_REQUIRED: -32001,
  AUTH_FAILED: -32002,
  FORBIDDEN: -32003,
  OBJECT_NOT_FOUND: -32004,
  NOT_SUPERUSER: -32005,
  CONFLICT: -32009,
  API_VERSION_MISMATCH: -32010,
  UNAVAILABLE: -32011,
} as const;

const DEFAULT_RPC_CODE: Record<ApiErrorCode, number> = {
  INVALID_ARGUMENT: RPC_CODES.INVALID_PARAMS,
  NOT_FOUND: RPC_CODES.OBJECT_NOT_FOUND,
  AUTH_REQUIRED: RPC_CODES.AUTH_REQUIRED,
  AUTH_FAILED: RPC_CODES.AUTH_FAILED,
  FORBIDDEN: RPC_CODES.FORBIDDEN,
  NOT_SUPERUSER: RPC_CODES.NOT_SUPERUSER,
  CONFLICT: RPC_CODES.CONFLICT,
  API_VERSION_MISMATCH: RPC_CODES.API_VERSION_MISMATCH,
  UNAVAILABLE: RPC_CODES.UNAVAILABLE,
  INTERNAL: RPC_CODES.INTERNAL_ERROR,
};

export interface ApiErrorData {
  code: ApiErrorCode;
  /** the offending parameter */
  param?: string;
  /** the object not found or in conflict */
  id?: string;
  retryAfterMs?: number;
  /** INTERNAL: correlation id of the logged fault */
  incident?: string;
  /** getRequestResult timeout: the request is still running */
  processing?: boolean;
  [key: string]: unknown;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data: ApiErrorData;
}

export interface ApiErrorDetails extends Omit<ApiErrorData, "code"> {
  /** JSON-RPC code, when not the default for `code` (-32700, -32600, -32601) */
  rpcCode?: number;
}

export function isApiErrorCode(value: unknown): value is ApiErrorCode {
  return typeof value === "string" && (API_ERROR_CODES as readonly string[]).includes(value);
}

/** An error a method raises on purpose; the dispatcher turns it into a JSON-RPC error object. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly rpcCode: number;
  readonly data: ApiErrorData;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    details: ApiErrorDetails = {},
  ) {
    super(message);
    const { rpcCode, ...rest } = details;
    this.rpcCode = rpcCode ?? DEFAULT_RPC_CODE[code];
    this.data = { code, ...rest };
  }

  toObject(): JsonRpcErrorObject {
    return { code: this.rpcCode, message: this.message, data: { ...this.data } };
  }

  static fromObject(object: JsonRpcErrorObject): ApiError {
    const { code, ...rest } = object.data;
    return new ApiError(isApiErrorCode(code) ? code : "INTERNAL", object.message, {
      ...rest,
      rpcCode: object.code,
    });
  }

  static invalidArgument(message: string, param?: string): ApiError {
    return new ApiError("INVALID_ARGUMENT", message, param === undefined ? {} : { param });
  }

  static notFound(message: string, id?: string): ApiError {
    return new ApiError("NOT_FOUND", message, id === undefined ? {} : { id });
  }
}
