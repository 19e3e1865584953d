import { expect, test } from "@playwright/test";
import { ADMIN, jsEnabled, open, signIn, signUp } from "./util";

const PAGES: [string, string][] = [
  ["/upload", "Identify a photo"],
  ["/history", "History"],
  ["/species", "Species"],
  ["/pressure", "Pest pressure"],
  ["/feedback", "Feedback"],
  ["/label", "Label data"],
  ["/datasets", "Datasets"],
  ["/models", "Models"],
  ["/users", "Users"],
  ["/commands", "Commands"],
  ["/terminal", "Terminal"],
  ["/me", "My account"],
];

test("home page shows database figures and the loaded model", async ({ page }, info) => {
  const response = await open(page, "/", info);
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Which insect is this?");
  await expect(page.getByTestId("identifications")).toHaveText(/^\d+$/);
  await expect(page.locator("#model-summary")).toContainText("efficientnet-lite0-imagenet");
  await expect(page.locator("#model-summary")).toContainText("1000 classes");
  await page.screenshot({ path: info.outputPath("home.png"), fullPage: true });
});

test("photo tips fold away only once hydrated", async ({ page }, info) => {
  await open(page, "/", info);
  const list = page.locator("#tips-list");
  const button = page.getByRole("button", { name: /tips/ });
  await expect(list).toBeVisible();
  if (jsEnabled(info)) {
    await button.click();
    await expect(list).toBeHidden();
    await expect(button).toHaveText("Show tips");
    await expect(button).toHaveAttribute("aria-expanded", "false");
    await button.click();
    await expect(list).toBeVisible();
    await expect(button).toHaveText("Hide tips");
  } else {
    // Without JavaScript the button could not work, so it is not offered; the tips stay readable.
    await expect(button).toBeHidden();
  }
});

test("every page of the product is reachable from an administrator's navigation", async ({ page }, info) => {
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/", info);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.locator("a")).toHaveCount(PAGES.length);
  for (const [href, title] of PAGES) {
    await page.getByRole("navigation", { name: "Main" }).locator(`a[href="${href}"]`).click();
    await expect(page).toHaveURL(new RegExp(`${href}$`));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);
    await expect(page).toHaveTitle(`${title} · Insect Identifier`);
  }
});

test("the navigation offers each person only what they may open", async ({ page }, info) => {
  const nav = page.getByRole("navigation", { name: "Main" });
  await open(page, "/", info);
  await expect(nav.locator("a")).toHaveText(["Identify", "Species", "Pest pressure"]);
  // A direct link still reaches the page, which says why it refuses.
  await open(page, "/users", info);
  await expect(page.locator("#users-error")).toContainText("sign in first");

  await signUp(page, info, `nav${info.project.name}${Date.now() % 1_000_000}`);
  await open(page, "/", info);
  await expect(nav.locator("a")).toHaveText(["Identify", "History", "Species", "Pest pressure", "My account"]);
});

test("on a phone the navigation folds behind a Menu button", async ({ page }, info) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await open(page, "/", info);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Species" })).toBeHidden();
  await nav.getByText("Menu").click();
  await nav.getByRole("link", { name: "Species" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Species");
  await page.screenshot({ path: info.outputPath("phone-menu.png"), fullPage: true });
});

test("model status shows a real forward pass", async ({ page }, info) => {
  await open(page, "/models", info);
  await expect(page.getByTestId("model-name")).toHaveText("efficientnet-lite0-imagenet");
  await expect(page.getByTestId("model-classes")).toHaveText("1000");
  await expect(page.getByTestId("model-device")).toHaveText(/^(cpu|cuda:\d+)$/);
  const warmup = await page.getByTestId("warmup-ms").textContent();
  expect(parseFloat(warmup ?? "0")).toBeGreaterThan(0);
  await expect(page.locator(".warmup-top li")).toHaveCount(3);
});

test("an unknown address answers 404 with a way back", async ({ page }, info) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await page.getByRole("link", { name: "Go to the home page" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Which insect is this?");
});
