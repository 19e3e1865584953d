import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { ADMIN, open, signIn } from "../util";

// The "exclusive" project runs this after every other test (playwright.config.ts): making a
// three-class fine-tuned model the active one would change every answer identified meanwhile.
test("the fine-tuned version, activated, answers and lists its identification, then is rolled back", async ({ page }, info) => {
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/models", info);
  // Made by models.spec.ts (project js) from the dataset e2e-pests-js.
  const row = page.locator('#model-versions tr[data-version^="e2e-pests-js.1-ft"]').first();
  await expect(row).toBeVisible();
  const newVersion = (await row.getAttribute("data-version")) as string;
  await expect(row.locator(".evaluation")).toContainText("on e2e-pests-js@1 (val)");
  await row.getByRole("button", { name: "Activate" }).click();
  await expect(row).toContainText("active", { timeout: 30_000 });
  const r = await page.request.post("/api/v1/identify", {
    multipart: { image: { name: "x.png", mimeType: "image/png", buffer: readFileSync(process.env.E2E_PHOTO as string) } },
  });
  expect(r.status()).toBe(200);
  const answer = (await r.json()).results[0];
  expect(answer.model_version).toBe(newVersion);
  expect(answer.model_name).toContain("e2e-pests-js");
  expect(answer.answer.top).toHaveLength(3);
  // The registry lists what the version identified: this photo.
  await open(page, "/models", info);
  await row.getByRole("link", { name: "1", exact: true }).click();
  await expect(page.locator("#version-identifications li")).toHaveCount(1);
  await open(page, "/models", info);
  await page.getByRole("button", { name: "Roll back to the previous version" }).click();
  await expect(page.locator("#model-versions tr.active")).not.toContainText(newVersion, { timeout: 30_000 });
});
