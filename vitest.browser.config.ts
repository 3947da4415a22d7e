import { defineConfig } from "vitest/config";

// The browser suite: Node drives Debian's Chromium (playwright-core) against the whole
// product served by `wrangler dev` (test/browser/global-setup.mjs). Run by `npm test`
// after the workerd suite (vitest.config.ts). test/e2e/ runs in the same Node process
// against the same server: tests that need real sockets, such as webhook receivers.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts", "test/e2e/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/browser/global-setup.mjs"],
    // One wrangler dev and one Chromium per file: the files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
