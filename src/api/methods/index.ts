import type { MethodRegistry } from "../rpc/registry.js";
import type { ApiServices } from "../services.js";
import { registerEventMethods } from "./event-methods.js";
import { registerFileMethods } from "./file-methods.js";
import { registerGcMethods } from "./gc-methods.js";
import { registerInfoMethods } from "./info-methods.js";
import { registerRequestMethods } from "./request-methods.js";
import { registerSessionMethods } from "./session-methods.js";
import { registerTokenMethods } from "./token-methods.js";

/** Register every server method of api.md §2 implemented here. */
export function registerServerMethods(registry: MethodRegistry, services: ApiServices): void {
  registerSessionMethods(registry, services);
  registerTokenMethods(registry, services);
  registerInfoMethods(registry, services);
  registerRequestMethods(registry, services);
  registerEventMethods(registry, services);
  registerFileMethods(registry, services);
  registerGcMethods(registry, services);
}
