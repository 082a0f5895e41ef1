import { AdaptiveRateController } from "./adaptive.js";
import { BackgroundRateController } from "./background.js";
import type { ControllerConfig, RateControlMethod, RateController } from "./controller.js";
import { FairRateController } from "./fair.js";
import { FixedRateController } from "./fixed.js";

export type {
  AckEvent,
  ControllerConfig,
  LossEvent,
  RateControlMethod,
  RateController,
  RateSample,
} from "./controller.js";
export { RATE_CONTROL_METHODS } from "./controller.js";
export { DeliveryRateEstimator, type PacketDeliveryState } from "./delivery-rate.js";
export { AdaptiveRateController, DEFAULT_ADAPTIVE_TUNING, type AdaptiveTuning } from "./adaptive.js";
export { BackgroundRateController } from "./background.js";
export { FairRateController } from "./fair.js";
export { FixedRateController } from "./fixed.js";
export { MIN_WINDOW_DATAGRAMS } from "./common.js";

/** A fresh controller for `method` (api.md §6.3). All rates are bytes per second. */
export function createController(method: RateControlMethod, config: ControllerConfig): RateController {
  switch (method) {
    case "fixed":
      return new FixedRateController(config);
    case "adaptive":
      return new AdaptiveRateController(config);
    case "fair":
      return new FairRateController(config);
    case "background":
      return new BackgroundRateController(config);
  }
}
