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
  expect((await (await page.request.get("/api/v1/model")).json()).version).toBe("1.1.0");
  await open(page, "/models", info);
  await candidate.getByRole("button", { name: "Delete" }).click();
  await expect(candidate).toHaveCount(0);
});

/** Waits until the job page says the job has ended: with JavaScript the page polls, without it
 * the page refreshes itself (a meta refresh inside <noscript>); the test never reloads. */
async function jobEnds(page: import("@playwright/test").Page, info: import("@playwright/test").TestInfo, state = "succeeded") {
  if (info.project.name === "js") {
    await expect(page.locator('head meta[http-equiv="refresh"]'), "a scripted page never reloads itself").toHaveCount(0);
  }
  await expect(page.locator("#job"), "the job page follows the job").toHaveAttribute("data-state", /^(?!queued$|running$)/, { timeout: 120_000 });
  await expect(page.locator("#job"), await page.locator("#job-log").innerText()).toHaveAttribute("data-state", state);
}

test("an administrator fine-tunes on a small dataset, evaluates and compares, activates, and identifications report the new version", async ({ page }, info) => {
  test.setTimeout(300_000);
  const dataset = `e2e-pests-${info.project.name}`;
  await signIn(page, info, ADMIN.name, ADMIN.password);
  // The dataset: three families of generated photos, uploaded as an archive of class folders.
  await open(page, "/datasets", info);
  const archive = page.locator("#archive-form");
  await archive.getByLabel("Dataset name").fill(dataset);
  await archive.locator("input[type=file]").setInputFiles(process.env.E2E_DATASET_ZIP as string);
  await archive.getByRole("button", { name: "Upload and import" }).click();
  const version = page.locator(`tr[data-spec="${dataset}@1"]`);
  await expect(async () => {
    if (info.project.name !== "js") await page.reload();
    await expect(version).toContainText("ready", { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(version).toContainText("27");

  // Fine-tune from the Commands page; the job page follows it to the end.
  await open(page, "/commands", info);
  const tune = page.locator("#command-fine-tune");
  await tune.locator('select[name="values[dataset]"]').selectOption(`${dataset}@1`);
  await tune.locator('input[name="values[hidden]"]').fill("0");
  await tune.locator('input[name="values[epochs]"]').fill("40");
  await tune.getByRole("button", { name: "Run" }).click();
  await expect(page).toHaveURL(/\/jobs\/\d+$/);
  await jobEnds(page, info);
  await expect(page.locator("#loss-curve polyline.accuracy")).toHaveCount(1);
  await expect(page.locator("#job-log")).toContainText("epoch   1");
  const tuned = JSON.parse(await page.locator("#job-result").innerText());
  expect(tuned.best_val_accuracy, "better than chance on three classes").toBeGreaterThan(0.5);
  expect(String(tuned.model)).toContain(`${dataset}.1-ft`);

  // Evaluate the new version and the active one on the val split, then compare them.
  const evaluations: string[] = [];
  for (const model of [String(tuned.model_version_id), "active"]) {
    await open(page, "/commands", info);
    const evaluate = page.locator("#command-evaluate");
    const select = evaluate.locator('select[name="values[model]"]');
    if (model === "active") {
      const active = await select.locator("option", { hasText: "(active)" }).getAttribute("value");
      await select.selectOption(active as string);
    } else {
      await select.selectOption(model);
    }
    await evaluate.locator('select[name="values[dataset]"]').selectOption(`${dataset}@1`);
    await evaluate.locator('select[name="values[split]"]').selectOption("val");
    await evaluate.getByRole("button", { name: "Run" }).click();
    await expect(page).toHaveURL(/\/jobs\/\d+$/);
    await jobEnds(page, info);
    const reliability = page.locator('img[alt="reliability.png"]');
    await expect(reliability).toBeVisible();
    // Polled: the picture may still be on its way when the job page arrives (a refresh without
    // JavaScript), and a single look then sees a width of 0.
    await expect.poll(() => reliability.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100);
    // Nine val photos: the verdicts' answers add up to them, and each share is its answers of nine.
    const answers = (await page.locator("#verdicts tbody tr td:nth-child(2)").allInnerTexts()).map(Number);
    expect(answers.reduce((sum, n) => sum + n, 0)).toBe(9);
    const shares = await page.locator("#verdicts tbody tr td:nth-child(3)").allInnerTexts();
    expect(shares).toEqual(answers.map((n) => `${((n / 9) * 100).toFixed(1)} %`));
    evaluations.push(page.url().split("/").pop() as string);
  }
  await open(page, `/models/compare?a=${evaluations[0]}&b=${evaluations[1]}`, info);
  await expect(page.locator("#comparison")).toContainText("9 photos");
  await expect(page.locator("#compare-classes tbody tr")).toHaveCount(3);
  await expect(page.locator("#comparison")).toContainText("McNemar p =");
  await page.screenshot({ path: info.outputPath("comparison.png"), fullPage: true });

  // Activating it is tests/exclusive/model_switch.spec.ts: run after every other test, so that
  // no photo identified meanwhile meets a three-class model.
});

test("a candidate in shadow mode answers beside the active model and the page shows their agreement", async ({ page }, info) => {
  test.skip(info.project.name !== "js", "shadow mode is one server's state");
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/models", info);
  // The candidate: a version the fine-tune test above installed (tests of a file run in order).
  const candidate = page.locator("#model-versions tbody tr:not(.active)").first();
  await expect(candidate).toHaveCount(1);
  await candidate.getByRole("button", { name: "Shadow" }).click();
  await expect(page.locator("#shadow-agreement")).toContainText("Agreement 0 / 0", { timeout: 30_000 });
  for (let i = 0; i < 2; i++) {
    const r = await page.request.post("/api/v1/identify", {
      multipart: { image: { name: "x.png", mimeType: "image/png", buffer: readFileSync(process.env.E2E_PHOTO as string) } },
    });
    expect(r.status()).toBe(200);
  }
  await expect(async () => {
    await open(page, "/models", info);
    await expect(page.locator("#shadow-agreement")).toContainText("/ 2", { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  await page.locator("#shadow-off").click();
  await expect(page.locator("#shadow")).toContainText("No candidate is running in shadow");
});
