/**
 * Who an incoming session and transfer belong to (api.md §4, §5.14; server.md §10, §15): the
 * allow-list decides which sender keys get a session; the owner of a valid receive token, else
 * the key's bound user, else `anonymous` is the receiving user; the files go below that user's
 * sandbox root, or for a token below the token's path in it.
 */
import type { SandboxView } from "../sandbox.js";
import type { ServerState } from "../server-state.js";
import type { ReceiveTokenGrant, ReceiveTokenRefusal } from "../tokens/index.js";
import { ANONYMOUS_USER } from "./recv-records.js";
import type { AuthorizedClients } from "./authorized-clients.js";

export interface Refusal {
  code: string;
  message: string;
}

export const NOT_LISTED: Refusal = {
  code: "NOT_AUTHORIZED",
  message:
    "this receiver accepts only authorised senders and this server's public key is not in its list: " +
    "ask the receiver's administrator to add it (recv.addAuthorizedClient)",
};

export const NO_KEY: Refusal = {
  code: "NOT_AUTHORIZED",
  message:
    "this receiver accepts only authorised senders, identified by their key: unencrypted senders have none; " +
    "enable encryption on the sender and have its public key added (recv.addAuthorizedClient)",
};

/** The session-level decision on a sender's key (null: a plain session without key). */
export function judgeKey(clients: AuthorizedClients, publicKey: string | null): Refusal | null {
  if (!clients.onlyAuthorizedAllowed) return null;
  if (publicKey === null) return NO_KEY;
  return clients.find(publicKey) ? null : NOT_LISTED;
}

export type TransferAdmission = { user: string; root: string } | Refusal;

/** The receiving user of a transfer from `publicKey` and the sandbox root its files go under. */
export function admitFor(
  state: ServerState,
  clients: AuthorizedClients,
  publicKey: string | null,
): TransferAdmission {
  const bound = publicKey ? (clients.find(publicKey)?.user ?? null) : null;
  if (bound !== null) {
    if (!state.users.get(bound)) {
      return {
        code: "RECEIVER_REFUSED",
        message: `the user this sender is bound to (${bound}) no longer exists on the receiver`,
      };
    }
    return rootOf(state, bound);
  }
  if (!state.options.recvAllowAnonymous) {
    return {
      code: "RECEIVER_REFUSED",
      message:
        "this server does not accept anonymous transfers (--recv-allow-anonymous is off) and this sender's key is not bound to a user",
    };
  }
  if (state.sandbox.mappingFor(ANONYMOUS_USER) === null) {
    return { code: "RECEIVER_REFUSED", message: "anonymous transfers need a sandbox (--sandbox-dir)" };
  }
  return rootOf(state, ANONYMOUS_USER);
}

function rootOf(state: ServerState, user: string): TransferAdmission {
  let view: SandboxView;
  try {
    view = state.sandbox.viewFor(user);
  } catch (error) {
    return { code: "RECEIVER_REFUSED", message: `the sandbox of ${user}: ${(error as Error).message}` };
  }
  return rootOfView(view, user);
}

/**
 * A transfer admitted by its receive token (server.md §15): written as the token's owner with
 * the token's path as its root, i.e. the owner's sandbox root joined with that path (`grant.view`
 * is the owner's view narrowed to it). The transfer's `destinationPath` is relative to that
 * root, and the receiver refuses any destinationPath or destPath leaving it (`..`, symbolic
 * links), so a token never reaches the rest of the owner's sandbox.
 */
export function tokenAdmission(grant: ReceiveTokenGrant | ReceiveTokenRefusal): TransferAdmission {
  if ("code" in grant) return grant;
  return rootOfView(grant.view, grant.user);
}

/** Where `user`'s received files go in `view` (their sandbox, or a token's part of it). */
export function rootOfView(view: SandboxView, user: string): TransferAdmission {
  const roots = view.roots;
  if (roots === null) return { user, root: "/" };
  const whole = roots.get("");
  if (whole === undefined) {
    return {
      code: "RECEIVER_REFUSED",
      message: `the sandbox of ${user} has several roots and none for received files (a mapping for "")`,
    };
  }
  return { user, root: whole };
}
