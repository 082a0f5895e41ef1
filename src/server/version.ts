import { readFileSync } from "node:fs";

interface PackageJson {
  version?: string;
  slipstreamRevision?: number;
}

function readPackageJson(): PackageJson {
  // dist/src/server/version.js -> package root
  try {
    const text = readFileSync(new URL("../../../package.json", import.meta.url), "utf8");
    return JSON.parse(text) as PackageJson;
  } catch {
    return {};
  }
}

const pkg = readPackageJson();

/** Semantic version of this build (ServerInfo.version). */
export const VERSION: string = pkg.version ?? "0.0.0";
/** Build number (ServerInfo.revision); 0 for builds from a work tree. */
export const REVISION: number = typeof pkg.slipstreamRevision === "number" ? pkg.slipstreamRevision : 0;
/** Highest API version served (api.md §1.1). */
export const API_VERSION = 1;
/** Lowest API version served. */
export const MIN_API_VERSION = 1;
