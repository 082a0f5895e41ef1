import { stat } from "node:fs/promises";
import { errnoCode } from "../errors.js";
import { checkContainment, FileOpError, resolveVirtualPath, type SandboxView } from "../sandbox.js";
import type { ServerState } from "../server-state.js";
import { SharedTokenStore } from "./shared-token-store.js";
import { ApiTokenStore, type ApiTokenRecord } from "./token-store.js";

const stores = new WeakMap<ServerState, ApiTokenStore>();
const sharedStores = new WeakMap<ServerState, SharedTokenStore>();

/**
 * The API-token store of a server, made on first use: the API and the receive side share it.
 * (Get it from a ServerHandle as `apiTokensOf(handle.state)`.)
 */
export function apiTokensOf(state: ServerState): ApiTokenStore {
  let store = stores.get(state);
  if (store === undefined) {
    store = new ApiTokenStore(state.database, state.clock, state.events, state.options.apiDisableApiTokens);
    stores.set(state, store);
  }
  return store;
}

/** The shared-token store of a server, made on first use (the API's login and send methods share it). */
export function sharedTokensOf(state: ServerState): SharedTokenStore {
  let store = sharedStores.get(state);
  if (store === undefined) {
    const { database, clock, events, options } = state;
    store = new SharedTokenStore(database, clock, events, options.apiDisableSharedTokens);
    sharedStores.set(state, store);
  }
  return store;
}

/**
 * Check that `path` exists in `view` and stays inside it; returns its normalised virtual path.
 * NOT_FOUND when missing, INVALID_ARGUMENT for `..` or a symlink escape.
 */
export async function existingVirtualPath(view: SandboxView, path: string, param: string): Promise<string> {
  const resolved = resolveVirtualPath(view, path, param);
  if (resolved.real === null) return resolved.virtual; // the top level of a multi-root view
  await checkContainment(resolved, true, param);
  try {
    await stat(resolved.real);
  } catch (error) {
    if (errnoCode(error) === "EACCES")
      throw new FileOpError("FORBIDDEN", `permission denied: ${resolved.virtual}`, param);
    throw new FileOpError("NOT_FOUND", `no such file or directory: ${resolved.virtual}`, param);
  }
  return resolved.virtual;
}

/**
 * `view` seen from `path` (api.md §1.4): the path becomes `/` and nothing above it is reachable.
 * The path must exist; the top level of a multi-root view narrows to the view itself.
 */
export async function narrowView(view: SandboxView, path: string): Promise<SandboxView> {
  const virtual = await existingVirtualPath(view, path, "path");
  const resolved = resolveVirtualPath(view, virtual, "path");
  if (resolved.real === null) return view;
  return { roots: new Map([["", resolved.real]]) };
}

/** The file view of a token: its owner's view narrowed to its path. */
export function tokenView(state: ServerState, record: ApiTokenRecord): Promise<SandboxView> {
  return narrowView(state.sandbox.viewFor(record.owner), record.path);
}

export interface ReceiveTokenGrant {
  /** the receiving user: the token's owner */
  user: string;
  /** the token's confining path, virtual in the owner's view */
  path: string;
  /** the owner's view narrowed to `path`: resolve the transfer's destinationPath against it */
  view: SandboxView;
}

export interface ReceiveTokenRefusal {
  code: "RECEIVER_REFUSED";
  message: string;
}

/**
 * A sender's `receiveToken` (api.md §3.4, server.md §15): valid when API tokens are enabled, the
 * token exists, has not expired, carries `upload`, its owner still exists, its path still exists
 * and `password` matches. A use counts as one (lastUseTime). Messages never contain the token.
 */
export async function verifyReceiveToken(
  state: ServerState,
  token: string,
  password: string | null,
): Promise<ReceiveTokenGrant | ReceiveTokenRefusal> {
  const refuse = (message: string): ReceiveTokenRefusal => ({ code: "RECEIVER_REFUSED", message });
  const store = apiTokensOf(state);
  if (store.disabled) return refuse("API tokens are disabled on the receiving server");
  const record = store.live(token);
  if (record === null || state.users.get(record.owner) === null)
    return refuse("the receiveToken is unknown or has expired");
  if (!record.permissions.includes("upload"))
    return refuse("the receiveToken does not carry the upload permission");
  if (!(await store.passwordMatches(record, password)))
    return refuse("wrong or missing password for the receiveToken");
  let view: SandboxView;
  try {
    view = await tokenView(state, record);
  } catch (error) {
    if (error instanceof FileOpError && error.code === "NOT_FOUND")
      return refuse("the receiveToken's path no longer exists on the receiving server");
    // e.g. it became a symbolic link out of the owner's sandbox
    const why = error instanceof Error ? error.message : String(error);
    return refuse(`the receiveToken's path cannot be used on the receiving server: ${why}`);
  }
  store.touch(record);
  return { user: record.owner, path: record.path, view };
}

/**
 * The file view an object's owner works in: the user's view, or for an object a token session
 * created (`ownerToken` set) that view narrowed to the token's path. A deleted token's objects
 * get NOT_FOUND rather than the wider user view.
 */
export async function viewForOwner(
  state: ServerState,
  owner: string,
  ownerToken: string | null,
): Promise<SandboxView> {
  if (ownerToken === null) return state.sandbox.viewFor(owner);
  const record = apiTokensOf(state).find(ownerToken);
  if (record === undefined) throw new FileOpError("NOT_FOUND", "the API token of this object was deleted");
  return tokenView(state, record);
}
