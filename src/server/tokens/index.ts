export * from "./token-store.js";
export * from "./token-access.js";
