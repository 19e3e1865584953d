import { expect, Page, TestInfo } from "@playwright/test";

export const jsEnabled = (info: TestInfo) => info.project.name === "js";

/** Opens a page and, with JavaScript on, waits until the app has hydrated. */
export async function open(page: Page, path: string, info: TestInfo) {
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const response = await page.goto(path);
  if (jsEnabled(info)) {
    // Loading and starting the (debug) WASM can take a while on a busy 2-core machine.
    await expect(page.locator(".app"), `not hydrated; browser said:\n${problems.join("\n")}`).toHaveAttribute("data-hydrated", "true", { timeout: 45_000 });
  } else {
    await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "false");
  }
  return response;
}
