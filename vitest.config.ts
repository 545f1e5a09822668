import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs keeps one global engine per process: run each file in its own fork, files in sequence
    // on a 2-core machine so a training test is not starved.
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
  },
});
