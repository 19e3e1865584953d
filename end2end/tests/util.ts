import { expect, Page, TestInfo } from "@playwright/test";

export const jsEnabled = (info: TestInfo) => info.project.name === "js";

/** Opens a page and, with JavaScript on, waits until the app has hydrated. */
export async function open(page: Page, path: string, info: TestInfo) {
  const response = await page.goto(path);
  if (jsEnabled(info)) {
    // Loading and starting the (debug) WASM can take a while on a busy 2-core machine.
    await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true", { timeout: 45_000 });
  } else {
    await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "false");
  }
  return response;
}
