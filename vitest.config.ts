import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // LangGraph's conformance suite calls describe/it/expect as globals
    globals: true,
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // integration files share one server; two workers match the machines we run on
    maxWorkers: 2,
  },
});
