import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // p-limit is ESM-only: bundled so the CommonJS build needs no require(esm)
  noExternal: ["p-limit", "yocto-queue"],
});
