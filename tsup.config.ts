import { defineConfig } from "tsup";

// `npm run build` empties dist/ first: the two builds run side by side and neither may clean
// away the other's output
export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: false,
    target: "node20",
    // p-limit is ESM-only: bundled so the CommonJS build needs no require(esm)
    noExternal: ["p-limit", "yocto-queue"],
  },
  {
    // the `langgraph-s3` command (package.json `bin`): its own entry point, ESM only; tsup
    // keeps the `#!/usr/bin/env node` line and makes the file executable
    entry: { cli: "src/cli/index.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    clean: false,
    target: "node20",
    noExternal: ["p-limit", "yocto-queue"],
  },
]);
