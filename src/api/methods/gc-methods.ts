import { garbageCollectorOf } from "../../server/gc/index.js";
import type { MethodRegistry } from "../rpc/registry.js";
import {
  garbageCollectMethod,
  getGarbageCollectSettingsMethod,
  updateGarbageCollectSettingsMethod,
} from "../schema/gc-methods.js";
import type { ApiServices } from "../services.js";

/** getGarbageCollectSettings, updateGarbageCollectSettings, garbageCollect (api.md §2.8). */
export function registerGcMethods(registry: MethodRegistry, services: ApiServices): void {
  const gc = garbageCollectorOf(services.state);
  registry.add(getGarbageCollectSettingsMethod, () => gc.settings());
  registry.add(updateGarbageCollectSettingsMethod, (patch) => gc.update(patch));
  registry.add(garbageCollectMethod, () => gc.run());
}
