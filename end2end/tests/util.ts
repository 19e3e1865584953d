import { expect, Page, TestInfo } from "@playwright/test";

// By the project's setting, not its name: the "exclusive" project runs with JavaScript on too.
export const jsEnabled = (info: TestInfo) => info.project.use.javaScriptEnabled !== false;

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

export const PASSWORD = "violet-moth-harvest-42";
export const ADMIN = { name: "admin", password: process.env.E2E_ADMIN_PASSWORD as string };

/** Creates an account on the sign-up page; the browser is then signed in as it. */
export async function signUp(page: Page, info: TestInfo, name: string, password = PASSWORD) {
  await open(page, "/signup", info);
  const form = page.locator("#sign-up-form");
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Password", { exact: true }).fill(password);
  await form.getByLabel("Password again").fill(password);
  await form.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("signed-in-as")).toBeVisible();
}

/** Signs in on the sign-in page and waits until the page says who is signed in. */
export async function signIn(page: Page, info: TestInfo, name: string, password: string) {
  await open(page, "/signin", info);
  const form = page.locator("#sign-in-form");
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Password").fill(password);
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toBeVisible();
}
