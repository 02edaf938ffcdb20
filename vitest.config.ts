import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // LangGraph's conformance suite calls describe/it/expect as globals
    globals: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // finds (or starts) the S3 server the integration tests talk to
          globalSetup: ["test/helpers/global-setup.ts"],
        },
      },
    ],
  },
});
