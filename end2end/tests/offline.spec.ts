import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { jsEnabled, open, signUp } from "./util";

const PHOTO = process.env.E2E_PHOTO as string;

test("photos taken offline wait in the browser and are sent once the connection returns", async ({ page, context }, info) => {
  test.skip(!jsEnabled(info), "a service worker and IndexedDB need JavaScript");
  const tag = `off${Date.now() % 1_000_000}`;
  await signUp(page, info, tag);
  await open(page, "/upload", info);
  // Installable: the manifest is linked and the service worker takes over the page.
  await expect(page.locator('link[rel="manifest"]')).toHaveAttribute("href", "/manifest.webmanifest");
  const manifest = await (await page.request.get("/manifest.webmanifest")).json();
  expect(manifest.start_url).toBe("/upload");
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await expect.poll(() => page.evaluate(() => Boolean(navigator.serviceWorker.controller))).toBe(true);

  // No connection: the upload page still opens, from the browser's cache.
  await context.setOffline(true);
  await open(page, "/upload", info);
  const fields = page.locator("#upload-context");
  await fields.locator("summary").click();
  await fields.getByLabel("Taken").fill("2026-06-01T07:45");
  await fields.getByLabel("Latitude").fill("45.5");
  await fields.getByLabel("Longitude").fill("-73.6");
  const bytes = Buffer.concat([readFileSync(PHOTO), Buffer.from(`offline ${tag}`)]);
  const input = page.locator("#upload-form input[type=file]");
  // A file that is no photo is refused before it is kept.
  await input.setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a photo") });
  await page.locator("#upload-form").evaluate((form: HTMLFormElement) => form.requestSubmit());
  await expect(page.locator("#offline-problem")).toContainText("notes.txt: not a photo this portal takes");
  await expect(page.locator("#offline-queue")).toBeHidden();
  await input.setInputFiles({ name: "field.jpg", mimeType: "image/jpeg", buffer: bytes });
  await page.getByRole("button", { name: "Identify" }).click();
  const item = page.locator("#offline-list li");
  await expect(item).toHaveCount(1);
  await expect(item).toHaveAttribute("data-state", "waiting");
  await expect(item).toContainText("field.jpg");
  await expect(item).toContainText("2026-06-01 07:45 · 45.5, -73.6 · waiting for a connection");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: info.outputPath("offline-phone.png"), fullPage: true });

  // Still offline after a reload: the photo is still waiting, kept in the browser.
  await open(page, "/upload", info);
  await expect(page.locator("#offline-list li")).toHaveAttribute("data-state", "waiting");

  // The connection returns: it is sent, once, and links to its result with its date and place.
  await context.setOffline(false);
  await expect(page.locator("#offline-list li")).toHaveAttribute("data-state", "sent", { timeout: 30_000 });
  const link = page.locator("#offline-list li a");
  await expect(link).toHaveAttribute("href", /^\/results\/\d+\?key=[0-9a-f]{64}$/);
  await open(page, "/upload", info);
  await expect(page.locator("#offline-list li")).toHaveCount(1);
  await page.locator("#offline-list li a").click();
  await expect(page).toHaveURL(/\/results\/\d+/);
  const observation = page.locator("#observation");
  await expect(observation.getByLabel("Taken")).toHaveValue("2026-06-01T07:45");
  await expect(observation.getByLabel("Latitude")).toHaveValue("45.50000");
  await open(page, "/history", info);
  await expect(page.locator("#history-list li")).toHaveCount(1);
});
