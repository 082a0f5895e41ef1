export * from "./token-store.js";
export * from "./shared-token-store.js";
export * from "./token-access.js";
