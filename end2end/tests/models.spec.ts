import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { ADMIN, open, signIn } from "./util";

// scripts/test.sh packs the default bundle under another version into E2E_BUNDLE_ZIP.
const BUNDLE = process.env.E2E_BUNDLE_ZIP as string;

test("an administrator installs a bundle, activates it, identifications report it, and rolls back", async ({ page }, info) => {
  test.skip(info.project.name !== "js", "one project is enough: both switch the one server's active model");
  expect(BUNDLE, "set by scripts/test.sh").toBeTruthy();
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/models", info);
  const installed = page.locator("#model-versions tbody tr");
  await expect(installed.filter({ hasText: "active" })).toHaveCount(1);
  const upload = page.locator("#model-upload-form");
  await upload.locator("input[type=file]").setInputFiles(BUNDLE);
  await upload.getByRole("button", { name: "Install" }).click();
  const candidate = page.locator('#model-versions tr[data-version="1.0.1-e2e"]');
  await expect(candidate).toHaveCount(1, { timeout: 30_000 });
  // Installing the same version twice is refused with the reason.
  await upload.locator("input[type=file]").setInputFiles(BUNDLE);
  await upload.getByRole("button", { name: "Install" }).click();
  await expect(page.getByRole("alert")).toContainText("installed already");

  await open(page, "/models", info);
  await candidate.getByRole("button", { name: "Activate" }).click();
  await expect(candidate).toContainText("active", { timeout: 30_000 });
  await expect(page.getByTestId("model-name")).toHaveText("efficientnet-lite0-imagenet");
  const model = await page.request.get("/api/v1/model");
  expect((await model.json()).version).toBe("1.0.1-e2e");
  // A photo identified now is answered, and recorded, by the new version.
  const r = await page.request.post("/api/v1/identify", {
    multipart: { image: { name: "x.jpg", mimeType: "image/jpeg", buffer: readFileSync(process.env.E2E_PHOTO as string) } },
  });
  expect(r.status()).toBe(200);
  expect((await r.json()).results[0].model_version).toBe("1.0.1-e2e");
  await page.screenshot({ path: info.outputPath("models.png"), fullPage: true });

  await page.getByRole("button", { name: "Roll back to the previous version" }).click();
  await expect(page.locator("#model-versions tr.active")).not.toContainText("1.0.1-e2e", { timeout: 30_000 });
  expect((await (await page.request.get("/api/v1/model")).json()).version).toBe("1.0.0");
  await open(page, "/models", info);
  await candidate.getByRole("button", { name: "Delete" }).click();
  await expect(candidate).toHaveCount(0);
});
