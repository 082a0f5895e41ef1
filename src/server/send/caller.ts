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

/** Others' objects are reported as missing, so their ids are not confirmed to exist. */
export function requireVisible<T extends Ownership>(
  object: T | undefined,
  caller: Caller,
  what: string,
  id: string,
  param: string,
): T {
  if (!object || (object.owner !== caller.user && !caller.superuser)) {
    throw new ServiceError("NOT_FOUND", `no ${what} with ${param} ${id}`, param, { id });
  }
  return object;
}

/** Which owners a list call covers: the caller, or (superusers) anyone given, `*` = all. */
export function ownerFilter(caller: Caller, owner: string | undefined): (o: Ownership) => boolean {
  if (owner === undefined || owner === caller.user) return (o) => o.owner === caller.user;
  if (!caller.superuser) {
    throw new ServiceError("FORBIDDEN", "only a superuser may list other users' objects", "owner");
  }
  return owner === "*" ? () => true : (o) => o.owner === owner;
}

export function page<T>(items: readonly T[], offset: number, limit: number): T[] {
  return items.slice(offset, offset + limit);
}
