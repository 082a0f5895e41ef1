import { ServiceError } from "../errors.js";
import type { Ownership } from "./records.js";

/** Who is calling a send operation (from the API session). */
export interface Caller {
  user: string;
  superuser: boolean;
  token: string | null;
  sessionId: string;
}

export function ownershipOf(caller: Caller): Ownership {
  return {
    owner: caller.user,
    ownerToken: caller.token,
    ownerTokenSession: caller.token ? caller.sessionId : null,
  };
}

/**
 * api.md §1.3: a password session sees its user's objects (superusers: all); a token session
 * only the objects its token created.
 */
export function canSee(object: Ownership, caller: Caller): boolean {
  if (caller.token !== null) return object.ownerToken === caller.token;
  return object.owner === caller.user || caller.superuser;
}

/** Others' objects are reported as missing, so their ids are not confirmed to exist. */
export function requireVisible<T extends Ownership>(
  object: T | undefined,
  caller: Caller,
  what: string,
  id: string,
  param: string,
): T {
  if (!object || !canSee(object, caller)) {
    throw new ServiceError("NOT_FOUND", `no ${what} with ${param} ${id}`, param, { id });
  }
  return object;
}

/** Which owners a list call covers: the caller, or (superusers) anyone given, `*` = all. */
export function ownerFilter(caller: Caller, owner: string | undefined): (o: Ownership) => boolean {
  if (caller.token !== null) return (o) => o.ownerToken === caller.token;
  if (owner === undefined || owner === caller.user) return (o) => o.owner === caller.user;
  if (!caller.superuser) {
    throw new ServiceError("FORBIDDEN", "only a superuser may list other users' objects", "owner");
  }
  return owner === "*" ? () => true : (o) => o.owner === owner;
}

export function page<T>(items: readonly T[], offset: number, limit: number): T[] {
  return items.slice(offset, offset + limit);
}
