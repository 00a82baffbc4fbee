import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  test: {
    root,
    // isolated-vm needs it in every process that loads it (its fork workers included).
    execArgv: ["--no-node-snapshot"],
    pool: "forks",
    // 2-core machines: more workers only add contention to timing-sensitive limit tests.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["runtime/**/*.test.ts", "router/**/*.test.ts", "cli/**/*.test.ts", "test/*.unit.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.int.test.ts"],
          // Real processes: a runtime start includes esbuild and isolate warm-up.
          testTimeout: 60_000,
          // One file at a time: each starts runtimes whose timing (CPU limits, "others keep
          // answering") a second file's runtimes would distort on a 2-core machine.
          fileParallelism: false,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
