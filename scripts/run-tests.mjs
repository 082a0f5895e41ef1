#!/usr/bin/env node
// Builds the project, then runs every compiled test file under dist/test with Node's test runner.
// Usage: npm test [-- <substring filter>...]   e.g. npm test -- codec sim
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const build = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", root], {
  stdio: "inherit",
});
if (build.status !== 0 && !process.env.SKIP_TSC_GATE) process.exit(build.status ?? 1);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
// Only tests whose source still exists: dist/ may hold output of renamed or deleted files.
const hasSource = (f) => existsSync(join(root, relative(join(root, "dist"), f)).replace(/\.js$/, ".ts"));
const files = walk(join(root, "dist/test"))
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
const run = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(run.status ?? 1);
