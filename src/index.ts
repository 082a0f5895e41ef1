/** Public entry point of the `slipstream` package. */

// client library
export { SlipstreamClient } from "./client/client.js";
export type {
  ClientOptions,
  BatchCall,
  BatchOutcome,
  NotificationListener,
  ServerNotification,
} from "./client/client.js";
export { SlipstreamApiError, SlipstreamConnectionError, FingerprintMismatchError } from "./client/errors.js";
export type { ConnectionErrorKind } from "./client/errors.js";
export { KnownHosts, defaultKnownHostsPath, hostPortKey } from "./client/known-hosts.js";
export { readAdminPassword } from "./client/credentials.js";

// API types and schema
export type {
  ApiMethods,
  ApiMethodName,
  ApiParams,
  ApiResult,
  Session,
  AsyncRequest,
  RequestStatus,
  ServerInfo,
  ReceiverInfo,
  RecvPort,
  BandwidthLimits,
  GarbageCollectSettings,
  EventLogEntryStructure as EventLogEntry,
  LsEntryStructure as LsEntry,
  DuResultStructure as DuResult,
  EventNotificationParams,
  SnapshotNotificationParams,
  SubscriptionLostParams,
  MethodSpec,
  Access,
  TokenPermission,
} from "./api/schema/index.js";
export {
  apiMethods,
  resolveMethodName,
  defineMethod,
  params,
  noParams,
  structure,
} from "./api/schema/index.js";
export { ApiError, API_ERROR_CODES, RPC_CODES } from "./api/rpc/errors.js";
export type { ApiErrorCode, ApiErrorData, JsonRpcErrorObject } from "./api/rpc/errors.js";

// embedding a server
export { startServer } from "./api/start-server.js";
export type { StartServerDeps } from "./api/start-server.js";
export type { ServerHandle, ServerExtension, ShutdownReason } from "./api/extension.js";
export type { EngineInfoProvider } from "./api/server-info.js";
export { MethodRegistry } from "./api/rpc/registry.js";
export type { MethodHandler } from "./api/rpc/registry.js";
export type { MethodContext } from "./api/rpc/context.js";
export type { ServerOptions } from "./server/options/definitions.js";
export type { ServerConfig } from "./server/options/parse.js";
export { parseServerCommand, defaultServerOptions } from "./server/options/parse.js";
export type { SnapshotPublication, SnapshotType } from "./server/events.js";
export { VERSION, API_VERSION, MIN_API_VERSION } from "./server/version.js";
