import { z } from "zod";
import { defineMethod, IdSchema, limitParam, offsetParam, params } from "./define.js";
import {
  AuthorizedClientSchema,
  ReceiveTransferSchema,
  RecvTransferStatusSchema,
  SourceSchema,
} from "./recv-structures.js";

const TRANSFERS = "Received transfers";
const CLIENTS = "Authorised clients";

const statusFilter = z
  .union([RecvTransferStatusSchema, z.array(RecvTransferStatusSchema)])
  .optional()
  .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]))
  .describe("filter: one status or a list");

// Keys are validated by the handler, so a bad one is reported with the reason (INVALID_ARGUMENT).
const publicKeyParam = z.string().describe("X25519 public key, unpadded base64url (43 characters)");

export const recvGetTransfersMethod = defineMethod({
  name: "recv.getTransfers",
  section: TRANSFERS,
  access: "session",
  summary: "Transfers received for the caller (superuser: all), in startTime order.",
  params: params({
    status: statusFilter,
    sourceServerUid: IdSchema.nullable().default(null).describe("only from this sending server"),
    offset: offsetParam,
    limit: limitParam,
  }),
  result: z.array(ReceiveTransferSchema),
});

export const recvGetTransferMethod = defineMethod({
  name: "recv.getTransfer",
  section: TRANSFERS,
  access: "session",
  summary: "One received transfer, by the sender's transferId (receiving user or superuser).",
  params: params({ transferId: IdSchema }),
  result: ReceiveTransferSchema,
  errors: ["NOT_FOUND"],
});

export const recvGetSourcesMethod = defineMethod({
  name: "recv.getSources",
  section: TRANSFERS,
  access: "superuser",
  summary: "Sending servers seen since start or with a kept receive record, in firstSeenTime order.",
  params: params({ offset: offsetParam, limit: limitParam }),
  result: z.array(SourceSchema),
});

export const recvGetAuthorizedClientsMethod = defineMethod({
  name: "recv.getAuthorizedClients",
  section: CLIENTS,
  access: "superuser",
  summary: "The allow-list of sender keys, in the order they were added.",
  params: params({ offset: offsetParam, limit: limitParam }),
  result: z.array(AuthorizedClientSchema),
});

export const recvAddAuthorizedClientMethod = defineMethod({
  name: "recv.addAuthorizedClient",
  section: CLIENTS,
  access: "superuser",
  summary:
    "Adds (or updates) a sender's public key in the allow-list; transfers from it are written as `user` in that user's sandbox. Persisted.",
  params: params({
    clientPublicKey: publicKeyParam.describe("the sending server's publicKey"),
    user: z.string().min(1).nullable().default(null).describe("receiving user; null = anonymous"),
    description: z.string().max(4096).default(""),
  }),
  result: AuthorizedClientSchema,
  errors: ["INVALID_ARGUMENT", "NOT_FOUND"],
});

export const recvRemoveAuthorizedClientMethod = defineMethod({
  name: "recv.removeAuthorizedClient",
  section: CLIENTS,
  access: "superuser",
  summary: "Removes a key from the allow-list; its live sessions are closed if the allow-list is enforced.",
  params: params({ clientPublicKey: publicKeyParam }),
  result: z.null(),
  errors: ["NOT_FOUND"],
});

export const recvAllowOnlyAuthorizedClientsMethod = defineMethod({
  name: "recv.allowOnlyAuthorizedClients",
  section: CLIENTS,
  access: "superuser",
  summary:
    "true: only senders whose key is listed may start sessions (unencrypted senders have no key and are refused). Persisted; --recv-only-authorized-clients overrides it at start.",
  params: params({ onlyAuthorizedClientsAllowed: z.boolean() }),
  result: z.null(),
});

export const recvMethods = [
  recvGetTransfersMethod,
  recvGetTransferMethod,
  recvGetSourcesMethod,
  recvGetAuthorizedClientsMethod,
  recvAddAuthorizedClientMethod,
  recvRemoveAuthorizedClientMethod,
  recvAllowOnlyAuthorizedClientsMethod,
] as const;
