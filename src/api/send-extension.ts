import { attachSendService } from "../server/engine/send-hooks.js";
import { SendService } from "../server/send/send-service.js";
import type { ServerExtension } from "./extension.js";
import { registerSendMethods } from "./methods/send-methods.js";

/** The sending side plugged into the server: destinations, manifests, transfers and their methods. */
export function sendExtension(): ServerExtension {
  let service: SendService | null = null;
  return {
    name: "send",
    start(server) {
      service = new SendService(server.state);
      registerSendMethods(server.registry, service);
      service.start();
      attachSendService(server.state, service);
    },
    async stop() {
      await service?.stop();
      service = null;
    },
  };
}
