import type { ServerState } from "../server/server-state.js";
import type { SessionStore } from "./auth/sessions.js";
import type { LoginThrottle } from "./auth/throttle.js";
import type { SubscriptionHub } from "./http/subscriptions.js";
import type { AsyncRequestStore } from "./rpc/async-requests.js";
import type { ServerInfoBuilder } from "./server-info.js";

/** What the server-method handlers work with. */
export interface ApiServices {
  readonly state: ServerState;
  readonly sessions: SessionStore;
  readonly requests: AsyncRequestStore;
  readonly throttle: LoginThrottle;
  readonly subscriptions: SubscriptionHub;
  readonly info: ServerInfoBuilder;
  /** delay before a failed login is answered (1 s; injectable for tests) */
  readonly failureDelayMs: number;
  /** begin a graceful shutdown after the current response is sent */
  requestShutdown(reason: "terminate"): void;
}
