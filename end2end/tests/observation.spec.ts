import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { jsEnabled, open, signUp } from "./util";

const PHOTO = process.env.E2E_PHOTO as string;

test("an upload keeps the date and place given; its owner edits, shares and filters by them", async ({ page }, info) => {
  const name = `obs${info.project.name}${Date.now() % 1_000_000}`;
  await signUp(page, info, name);
  await open(page, "/upload", info);
  const context = page.locator("#upload-context");
  await context.locator("summary").click();
  await context.getByLabel("Taken").fill("2026-06-01T08:00");
  await context.getByLabel("Latitude").fill("48.12534");
  await context.getByLabel("Longitude").fill("7.52531");
  // Bytes of its own, so this photo is this test's alone.
  const bytes = Buffer.concat([readFileSync(PHOTO), Buffer.from(`observation ${name}`)]);
  await page.locator("#upload-form input[type=file]").setInputFiles({ name: "field.jpg", mimeType: "image/jpeg", buffer: bytes });
  await page.getByRole("button", { name: "Identify" }).click();
  await expect(page).toHaveURL(/\/results\/\d+/);
  const section = page.locator("#observation");
  await expect(section.getByTestId("observation-state")).toContainText("From the device that sent it. Only you see this.");
  await expect(section.getByLabel("Taken")).toHaveValue("2026-06-01T08:00");
  await expect(section.getByLabel("Latitude")).toHaveValue("48.12534");
  await page.screenshot({ path: info.outputPath("observation.png"), fullPage: true });

  // The owner corrects the place and shares it.
  await section.getByLabel("Latitude").fill("48.2");
  await section.getByLabel(/Share with this portal/).check();
  await section.getByRole("button", { name: "Save" }).click();
  await expect(section.getByRole("status")).toHaveText("Saved.");
  await expect(section.getByTestId("observation-state")).toContainText("As you set it. Shared:");
  await expect(section.getByLabel("Latitude")).toHaveValue("48.20000");

  // A bad place is refused with the reason, and nothing changes.
  await section.getByLabel("Longitude").fill("");
  await section.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert")).toContainText("give both latitude and longitude, or neither");
  await open(page, new URL(page.url()).pathname, info);
  await expect(page.locator("#observation").getByLabel("Longitude")).toHaveValue("7.52531");

  // History: the date and area filters find it, or say that nothing matches.
  await open(page, "/history", info);
  const filters = page.locator("form.history-filters");
  await filters.getByLabel("Taken from").fill("2026-06-01");
  await filters.getByLabel("to", { exact: true }).fill("2026-06-01");
  await filters.getByLabel("Latitude").fill("48.2");
  await filters.getByLabel("Longitude").fill("7.5");
  await filters.getByLabel("within km").fill("5");
  await filters.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/from=2026-06-01/);
  await expect(page.locator("#history-list li")).toHaveCount(1);
  await expect(page.locator("#history-list .observation-line")).toContainText("2026-06-01 08:00:00 · 48.2000, 7.5253 · shared");
  await open(page, "/history?latitude=-33.9&longitude=18.4&km=5", info);
  await expect(page.locator("#history-none")).toContainText("No identifications match these filters.");
});

test("the device's position fills the place when the person allows it", async ({ page, context }, info) => {
  test.skip(!jsEnabled(info), "asking the browser for its position needs JavaScript");
  await context.grantPermissions(["geolocation"]);
  await context.setGeolocation({ latitude: 10.5, longitude: 20.25 });
  await signUp(page, info, `geo${Date.now() % 1_000_000}`);
  await open(page, "/upload", info);
  const fields = page.locator("#upload-context");
  await fields.locator("summary").click();
  // The date defaults to the device's clock now.
  await expect(fields.getByLabel("Taken")).toHaveValue(/^\d{4}-\d\d-\d\dT\d\d:\d\d/);
  await fields.getByRole("button", { name: "Use my location" }).click();
  await expect(fields.getByLabel("Latitude")).toHaveValue("10.50000");
  await expect(fields.getByLabel("Longitude")).toHaveValue("20.25000");
});

test("anonymous visitors are not asked for a date or place", async ({ page }, info) => {
  await open(page, "/upload", info);
  await expect(page.locator("#upload-form")).toBeVisible();
  await expect(page.locator("#upload-context")).toHaveCount(0);
});
