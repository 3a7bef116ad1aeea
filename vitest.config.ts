import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "app/**/*.test.ts",
      "nodes/**/*.test.ts",
      "bin/**/*.test.ts",
      "renderer/**/*.test.ts",
      "main/**/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    globalSetup: ["./vitest.global-setup.ts"],
  },
});
