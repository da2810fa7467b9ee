import { defineConfig } from "vitest/config";

// Fast unit tests that live beside the code.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
