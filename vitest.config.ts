import { defineConfig } from "vitest/config";

// what the tests against a real S3 server share: finding (or starting) the server and asking it
// what it supports, and a health check that ends the run's tests at once if the server dies
const againstS3 = {
  globalSetup: ["test/helpers/global-setup.ts"],
  setupFiles: ["test/helpers/server-health.ts"],
};

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
        test: { name: "integration", include: ["test/integration/**/*.test.ts"], ...againstS3 },
      },
      {
        // `npm run test:soak`: thousands of requests per test, minutes on a small machine
        extends: true,
        // (cleanup after a failed soak test may have 15,000 versions to delete)
        test: { name: "soak", include: ["test/soak/**/*.test.ts"], hookTimeout: 600_000, ...againstS3 },
      },
    ],
  },
});
