import { expect, test } from "@playwright/test";
import { open, PASSWORD, signIn, signUp } from "./util";


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
