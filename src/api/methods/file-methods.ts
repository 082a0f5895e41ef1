import { du, ls, lsRoots, makeDirectory, move, remove } from "../../server/files.js";
import type { SandboxView } from "../../server/sandbox.js";
import type { MethodContext } from "../rpc/context.js";
import type { MethodRegistry } from "../rpc/registry.js";
import {
  duMethod,
  lsMethod,
  lsRootsMethod,
  mkdirMethod,
  mvMethod,
  rmMethod,
} from "../schema/server-methods.js";
import type { ApiServices } from "../services.js";
import { requireSession } from "./session-helpers.js";

/** lsRoots, ls, du, mkdir, mv, rm inside the caller's sandbox view (api.md §2.5). */
export function registerFileMethods(registry: MethodRegistry, services: ApiServices): void {
  // TODO(tokens): narrow the view to a token session's `path`.
  const view = (ctx: MethodContext): SandboxView => services.state.sandbox.viewFor(requireSession(ctx).user);

  registry.add(lsRootsMethod, (_params, ctx) => lsRoots(view(ctx)));
  registry.add(lsMethod, ({ path, ...opts }, ctx) => ls(view(ctx), path, opts));
  registry.add(duMethod, ({ path }, ctx) => du(view(ctx), path));
  registry.add(mkdirMethod, async ({ path, parents }, ctx) => {
    await makeDirectory(view(ctx), path, parents);
    return null;
  });
  registry.add(mvMethod, async ({ srcPath, destPath, overwrite }, ctx) => {
    await move(view(ctx), srcPath, destPath, overwrite);
    return null;
  });
  registry.add(rmMethod, async ({ path, recursive }, ctx) => {
    await remove(view(ctx), path, recursive);
    return null;
  });
}
