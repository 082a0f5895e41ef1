import { writeFileSync } from "node:fs";
import { generateApiDocs } from "./docs.js";

// `npm run docs:api`: dist/src/api/schema/docs-main.js -> <repo>/docs/api.md
const target = new URL("../../../../docs/api.md", import.meta.url);
writeFileSync(target, generateApiDocs());
process.stdout.write(`wrote ${target.pathname}\n`);
