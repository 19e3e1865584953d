import { defineConfig } from "@playwright/test";

// Debian's Chromium, never a downloaded browser. Every spec runs twice: with JavaScript (the
// hydrated app) and without (plain server-rendered HTML and forms).
const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
};

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 2,
  // One retry: a test that passes only on its second run is reported as flaky, and
  // scripts/test.sh prints those last so they are seen and fixed, not hidden.
  retries: 1,
  reporter: [["list"]],
  outputDir: process.env.E2E_OUTPUT_DIR || "test-results",
  use: {
    baseURL: process.env.E2E_BASE_URL || "http://127.0.0.1:3999",
    launchOptions,
    screenshot: "only-on-failure",
    trace: "off",
  },
  projects: [
    { name: "js", use: { javaScriptEnabled: true }, testIgnore: /exclusive\// },
    { name: "nojs", use: { javaScriptEnabled: false }, testIgnore: /exclusive\// },
    // Tests that change what every other test sees (the server's active model): after all of
    // them, alone.
    { name: "exclusive", use: { javaScriptEnabled: true }, testMatch: /exclusive\/.*\.spec\.ts/, dependencies: ["js", "nojs"] },
  ],
});
