#!/usr/bin/env node
// Builds the optional native addon in native/ with node-gyp (run by `npm ci`/`npm install`).
// A failure is not fatal: Slipstream then runs on node:crypto and dgram alone, only slower.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
if (process.env.SLIPSTREAM_SKIP_NATIVE_BUILD) process.exit(0);

// npm tells lifecycle scripts where its bundled node-gyp is; otherwise look next to npm.
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), "../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
].filter((p) => p && existsSync(p));
if (candidates.length === 0) {
  console.warn("slipstream: node-gyp not found; the native fast path is not built (pure Node fallback).");
  process.exit(0);
}
const args = [candidates[0], "rebuild", "--directory", join(root, "native")];
// Build against the headers of the running Node when they are installed beside it (no download).
const prefix = join(dirname(process.execPath), "..");
if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include/node/node_api.h"))) {
  args.push(`--nodedir=${prefix}`);
}
const result = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
if (result.status !== 0) {
  console.warn(
    "slipstream: building the native fast path failed; running on node:crypto and dgram alone.\n" +
      (result.stderr ?? "").split("\n").slice(-15).join("\n"),
  );
}
process.exit(0);
