/**
 * The allow-list of sender keys (api.md §4, §5.14; server.md §10): persisted entries, each optionally
 * bound to the user its transfers are written as, and the flag that enforces the list. A
 * `--recv-only-authorized-clients` given at start overrides the stored flag for that start.
 */
import { KeyFormatError, parsePublicKey, formatPublicKey } from "../../io/keys.js";
import { ServiceError } from "../errors.js";
import type { UsersFile } from "../users.js";
import type { AuthorizedClientRecord } from "./recv-records.js";
import type { RecvStore } from "./recv-store.js";

const FLAG = "onlyAuthorizedClientsAllowed";

export class AuthorizedClients {
  private readonly clients = new Map<string, AuthorizedClientRecord>();
  private enforced: boolean;

  constructor(
    private readonly store: RecvStore,
    private readonly users: UsersFile,
    optionOverride: boolean | null,
  ) {
    for (const c of store.loadClients()) this.clients.set(c.clientPublicKey, c);
    if (optionOverride !== null) {
      this.enforced = optionOverride;
      store.setSetting(FLAG, JSON.stringify(optionOverride));
    } else {
      this.enforced = store.setting(FLAG) === "true";
    }
  }

  get onlyAuthorizedAllowed(): boolean {
    return this.enforced;
  }

  setOnlyAuthorizedAllowed(value: boolean): void {
    this.enforced = value;
    this.store.setSetting(FLAG, JSON.stringify(value));
  }

  list(): AuthorizedClientRecord[] {
    return [...this.clients.values()];
  }

  find(publicKey: string): AuthorizedClientRecord | undefined {
    return this.clients.get(publicKey);
  }

  /** Adds or updates an entry; the key is normalised, the user must exist. */
  add(
    key: string,
    user: string | null,
    description: string,
    addedBy: string,
    now: number,
  ): AuthorizedClientRecord {
    const clientPublicKey = normaliseKey(key);
    if (user !== null && !this.users.get(user)) {
      throw new ServiceError("NOT_FOUND", `no user named ${JSON.stringify(user)}`, "user", { id: user });
    }
    const previous = this.clients.get(clientPublicKey);
    const record: AuthorizedClientRecord = {
      addedBy: previous?.addedBy ?? addedBy,
      clientPublicKey,
      creationTime: previous?.creationTime ?? now,
      description,
      lastSeenTime: previous?.lastSeenTime ?? null,
      user,
    };
    this.clients.set(clientPublicKey, record);
    this.store.saveClient(record);
    return record;
  }

  remove(key: string): string {
    const clientPublicKey = normaliseKey(key);
    if (!this.clients.delete(clientPublicKey)) {
      throw new ServiceError("NOT_FOUND", "that public key is not in the allow-list", "clientPublicKey", {
        id: clientPublicKey,
      });
    }
    this.store.deleteClient(clientPublicKey);
    return clientPublicKey;
  }

  /** A session from this key was opened: remember when. */
  seen(publicKey: string, now: number): void {
    const c = this.clients.get(publicKey);
    if (!c) return;
    c.lastSeenTime = now;
    this.store.saveClient(c);
  }
}

function normaliseKey(key: string): string {
  try {
    return formatPublicKey(parsePublicKey(key, "clientPublicKey"));
  } catch (error) {
    if (error instanceof KeyFormatError) {
      throw new ServiceError("INVALID_ARGUMENT", error.message, "clientPublicKey");
    }
    throw error;
  }
}
