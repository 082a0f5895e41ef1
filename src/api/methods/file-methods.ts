import { du, ls, lsRoots, makeDirectory, move, remove } from "../../server/files.js";
import type { SandboxView } from "../../server/sandbox.js";
import { narrowView } from "../../server/tokens/index.js";
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
  // A token session sees its owner's view from the token's path down (api.md §1.4).
  const view = async (ctx: MethodContext): Promise<SandboxView> => {
    const session = requireSession(ctx);
    const userView = services.state.sandbox.viewFor(session.user);
    return session.path === null ? userView : narrowView(userView, session.path);
  };

  registry.add(lsRootsMethod, async (_params, ctx) => lsRoots(await view(ctx)));
  registry.add(lsMethod, async ({ path, ...opts }, ctx) => ls(await view(ctx), path, opts));
  registry.add(duMethod, async ({ path }, ctx) => du(await view(ctx), path));
  registry.add(mkdirMethod, async ({ path, parents }, ctx) => {
    await makeDirectory(await view(ctx), path, parents);
    return null;
  });
  registry.add(mvMethod, async ({ srcPath, destPath, overwrite }, ctx) => {
    await move(await view(ctx), srcPath, destPath, overwrite);
    return null;
  });
  registry.add(rmMethod, async ({ path, recursive }, ctx) => {
    await remove(await view(ctx), path, recursive);
    return null;
  });
}
