import { defineConfig } from "vitest/config";

// End-to-end tests: real processes, real sockets, a real Docker-API engine (Podman).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The machine has 2 cores; e2e files start engines and servers, so run them one file at a time.
    fileParallelism: false,
  },
});
