import { expect, Page, test } from "@playwright/test";
import { ADMIN, open, PASSWORD, signIn } from "./util";

const NEW_PASSWORD = "amber-beetle-orchard-77";

function unique(base: string, project: string) {
  return `${base}${project}${Date.now() % 1_000_000}`;
}

test("sign up, change password, sign out, sign in again", async ({ page }, info) => {
  const name = unique("ann", info.project.name);
  await open(page, "/signup", info);
  const form = page.locator("#sign-up-form");
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Password", { exact: true }).fill("password123");
  await form.getByLabel("Password again").fill("password123");
  await form.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("choose a harder password");

  await open(page, "/signup", info);
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Display name (optional)").fill("Ann Field");
  await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await form.getByLabel("Password again").fill(PASSWORD);
  await form.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("Ann Field (user)");

  await open(page, "/me", info);
  await expect(page.getByTestId("me-username")).toHaveText(name);
  const pw = page.locator("#password-form");
  await pw.getByLabel("Current password").fill("not-the-password-1");
  await pw.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await pw.getByLabel("New password again").fill(NEW_PASSWORD);
  await pw.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("alert")).toContainText("the current password is wrong");

  await pw.getByLabel("Current password").fill(PASSWORD);
  await pw.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await pw.getByLabel("New password again").fill(NEW_PASSWORD);
  await pw.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed; other sessions ended.")).toBeVisible();
  await expect(page.getByTestId("signed-in-as")).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign in" })).toBeVisible();

  await open(page, "/signin", info);
  const signin = page.locator("#sign-in-form");
  await signin.getByLabel("Username").fill(name);
  await signin.getByLabel("Password").fill(PASSWORD);
  await signin.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("wrong username or password");
  await signIn(page, info, name, NEW_PASSWORD);
  await page.screenshot({ path: info.outputPath("me.png"), fullPage: true });
});

test("an administrator manages users and sees the audit log", async ({ page, browser }, info) => {
  const name = unique("lab", info.project.name);
  // The user registers in a browser of their own.
  const other = await browser.newContext({ javaScriptEnabled: info.project.name === "js" });
  const theirs = await other.newPage();
  await theirs.goto("/signup");
  const form = theirs.locator("#sign-up-form");
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await form.getByLabel("Password again").fill(PASSWORD);
  await form.getByRole("button", { name: "Create account" }).click();
  await expect(theirs.getByTestId("signed-in-as")).toBeVisible();

  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, `/users?q=${name}`, info);
  const row = page.locator(`tr[data-username="${name}"]`);
  await expect(row).toHaveCount(1);
  await row.getByLabel(`Role of ${name}`).selectOption("labeler");
  await row.getByRole("button", { name: "Set role" }).click();
  // The audit log refreshes with the page (JS) or after the redirect (no JS): the server is done.
  const audited = (action: string) =>
    page.locator("#audit-table tr").filter({ hasText: name }).filter({ hasText: action });
  await expect(audited("user.role_changed")).toHaveCount(1);
  await open(page, `/users?q=${name}`, info);
  await expect(page.locator(`tr[data-username="${name}"]`).getByLabel(`Role of ${name}`)).toHaveValue("labeler");

  await page.locator(`tr[data-username="${name}"]`).getByRole("button", { name: "Disable" }).click();
  await expect(audited("user.disabled")).toHaveCount(1);
  await expect(page.locator(`tr[data-username="${name}"]`).locator(".status")).toHaveText("disabled");

  // Their session ended at once.
  await theirs.goto("/me");
  await expect(theirs.getByText("You are not signed in.")).toBeVisible();
  await other.close();

  // The last administrator cannot demote themselves.
  await open(page, `/users?q=${ADMIN.name}`, info);
  const me = page.locator(`tr[data-username="${ADMIN.name}"]`);
  await me.getByLabel(`Role of ${ADMIN.name}`).selectOption("user");
  await me.getByRole("button", { name: "Set role" }).click();
  await expect(page.getByRole("alert")).toContainText("last administrator");
  await page.screenshot({ path: info.outputPath("users.png"), fullPage: true });
});

test("non-administrators are refused the users page", async ({ page }, info) => {
  await open(page, "/users", info);
  await expect(page.locator("#users-error")).toContainText("sign in first");
});
