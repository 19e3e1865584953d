import { expect, test } from "@playwright/test";
import { ADMIN, open, PASSWORD, signIn, signUp } from "./util";


test("the catalogue is searchable in English and Chinese and each species has its card", async ({ page }, info) => {
  await open(page, "/species", info);
  await expect(page.locator("#species-list li")).toHaveCount(139);
  await page.getByRole("searchbox").fill("plant hopper");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=plant\+hopper/);
  await expect(page.locator("#species-list li")).toHaveCount(3);
  await page.getByRole("link", { name: /brown plant hopper 褐飞虱/ }).click();
  await expect(page.locator("h1")).toHaveText("brown plant hopper");
  await expect(page.locator("#species")).toContainText("Nilaparvata lugens");
  await expect(page.locator("#species")).toContainText("Delphacidae");
  await expect(page.locator("#species")).toContainText("hopperburn");
  await expect(page.getByTestId("known-to-model")).toContainText("does not know this species yet");
  await expect(page.locator(".relatives li")).toHaveCount(2);

  await open(page, "/species?q=" + encodeURIComponent("褐飞虱"), info);
  await expect(page.locator("#species-list li")).toHaveCount(1);
  await open(page, "/species?q=zzzz", info);
  await expect(page.getByText("No species matches that search.")).toBeVisible();
  await open(page, "/species/ip102-999", info);
  await expect(page.getByRole("alert")).toContainText("not found");
});

test("the interface switches to Chinese and an account remembers it", async ({ page, browser }, info) => {
  const name = `lang${info.project.name}${Date.now() % 1_000_000}`;
  await signUp(page, info, name);

  await open(page, "/species/ip102-8", info);
  await page.locator("#language-switcher").getByRole("button", { name: "中文" }).click();
  await expect(page).toHaveURL(/\/species\/ip102-8$/);
  await expect(page.locator("html")).toHaveAttribute("lang", "zh");
  await expect(page.locator("h1")).toHaveText("褐飞虱");
  await expect(page.getByRole("navigation", { name: "主导航" })).toContainText("历史记录");
  await open(page, "/", info);
  await expect(page.locator("h1")).toHaveText("这是什么昆虫？");
  await page.screenshot({ path: info.outputPath("home-zh.png"), fullPage: true });

  // Another browser knows nothing of it until the account signs in there.
  const other = await browser.newContext({ baseURL: info.project.use.baseURL, javaScriptEnabled: info.project.use.javaScriptEnabled, locale: "en-GB" });
  const second = await other.newPage();
  await open(second, "/signin", info);
  await expect(second.locator("html")).toHaveAttribute("lang", "en");
  await signIn(second, info, name, PASSWORD);
  await open(second, "/", info);
  await expect(second.locator("h1")).toHaveText("这是什么昆虫？");
  await other.close();

  await page.locator("#language-switcher").getByRole("button", { name: "English" }).click();
  await expect(page.locator("h1")).toHaveText("Which insect is this?");
});

test("an administrator describes a species for image–text models and removes it again", async ({ page, browser }, info) => {
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/species/ip102-11", info);
  await expect(page.getByTestId("model-reads")).toContainText("The active model is a classifier");
  const text = `a photo of a green leafhopper on rice, ${info.project.name} ${Date.now() % 1_000_000}`;
  const form = page.locator("#description-form");
  await form.getByLabel("Description").fill(text);
  await form.getByRole("button", { name: "Add description" }).click();
  await expect(page).toHaveURL(/\/species\/ip102-11\?described=0/);
  await expect(page.getByTestId("described")).toContainText("The active model reads no text");
  const item = page.locator("#description-list li", { hasText: text });
  await expect(item).toHaveCount(1);
  await expect(item.locator(".tag")).toHaveText("en");

  // Everyone reads the descriptions; only administrators may change them. (A signed-in
  // member: anonymous visitors get this page from the 30-second page cache.)
  const context = await browser.newContext({ baseURL: info.project.use.baseURL, javaScriptEnabled: info.project.use.javaScriptEnabled });
  const visitor = await context.newPage();
  await signUp(visitor, info, `describe${info.project.name}${Date.now() % 1_000_000}`);
  await open(visitor, "/species/ip102-11", info);
  await expect(visitor.locator("#description-list li", { hasText: text })).toHaveCount(1);
  await expect(visitor.locator("#description-form")).toHaveCount(0);
  await expect(visitor.locator("#description-list").getByRole("button", { name: "Remove" })).toHaveCount(0);
  await context.close();

  await item.getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("#description-list li", { hasText: text })).toHaveCount(0);
});
