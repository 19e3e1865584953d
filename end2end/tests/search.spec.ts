import { expect, test } from "@playwright/test";
import { open, signUp } from "./util";

// The Search page as a plain GET form, with JavaScript on and off. The e2e server answers with a
// classifier (no image–text model is shipped), so a search is refused with the reason;
// tests/photo_search.rs and server/tests/image_text_proof.rs check the ranking itself.
test("the search page asks for an image–text model, and anonymous visitors to sign in", async ({ page }, info) => {
  await open(page, "/search?q=green+leafhopper", info);
  await expect(page.getByText("Sign in to search your photos.")).toBeVisible();

  await signUp(page, info, `search${info.project.name}${Date.now() % 1_000_000}`);
  await open(page, "/history", info);
  await page.locator("#search-link").click();
  await expect(page).toHaveURL(/\/search$/);
  await expect(page.locator("#search-results")).toHaveCount(0);
  const form = page.locator('main form[action="/search"]');
  await form.locator("input[name=q]").fill("small green leafhopper on rice");
  await form.getByRole("button", { name: "Search", exact: true }).click();
  await expect(page).toHaveURL(/\/search\?q=small\+green\+leafhopper\+on\+rice$/);
  await expect(page.locator("#search-error")).toContainText("does not read text");
  await expect(form.locator("input[name=q]")).toHaveValue("small green leafhopper on rice");
});
