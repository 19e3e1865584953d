import { existsSync, readdirSync, readFileSync } from "node:fs";
import { Browser, expect, Page, test, TestInfo } from "@playwright/test";
import { ADMIN, open, signIn, signUp } from "./util";

const PHOTO = process.env.E2E_PHOTO as string;

/** The confirmation link in the message the e2e server's relay received for `address`. */
async function mailedLink(address: string): Promise<string> {
  const dir = `${process.env.E2E_MAILDIR as string}/new`;
  for (let i = 0; i < 50; i++) {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      const raw = readFileSync(`${dir}/${name}`, "utf8");
      if (!raw.includes(`\nTo: ${address}`) || !raw.includes("Subject: Confirm pest alerts")) continue;
      // The body is quoted-printable: soft line breaks and =XX escapes.
      const body = raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      const found = body.match(/https?:\/\/\S+\/alerts\/confirm\?token=[0-9a-f]{64}/);
      if (found) return found[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no confirmation message for ${address} in ${dir}`);
}

async function newUser(browser: Browser, info: TestInfo, name: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: info.project.use.baseURL, javaScriptEnabled: info.project.use.javaScriptEnabled });
  const page = await context.newPage();
  await signUp(page, info, name);
  return page;
}

test("a shared, confirmed sighting shows on the pressure pages and raises an alert for those who asked", async ({ page, browser }, info) => {
  test.setTimeout(120_000); // two people, a review, an alert and a subscription
  const tag = `${info.project.name}${Date.now() % 1_000_000}`;
  // Each project its own one-degree cell, so runs side by side do not count each other.
  const [lat, lon, region, regionName] =
    info.project.name === "js" ? ["10.5", "20.25", "10N20E", "10–11°N, 20–21°E"] : ["11.5", "21.25", "11N21E", "11–12°N, 21–22°E"];
  const ann = await newUser(browser, info, `pp${tag}`);
  await open(ann, "/upload", info);
  const fields = ann.locator("#upload-context");
  await fields.locator("summary").click();
  const today = new Date().toISOString().slice(0, 10);
  await fields.getByLabel("Taken").fill(`${today}T09:30`);
  await fields.getByLabel("Latitude").fill(lat);
  await fields.getByLabel("Longitude").fill(lon);
  const bytes = Buffer.concat([readFileSync(PHOTO), Buffer.from(`pressure ${tag}`)]);
  await ann.locator("#upload-form input[type=file]").setInputFiles({ name: "field.jpg", mimeType: "image/jpeg", buffer: bytes });
  await ann.getByRole("button", { name: "Identify" }).click();
  await expect(ann).toHaveURL(/\/results\/\d+/);
  const resultId = ann.url().match(/\/results\/(\d+)/)![1];
  // Shared, and said to be a rice water weevil.
  const observation = ann.locator("#observation");
  await observation.getByLabel(/Share with this portal/).check();
  await observation.getByRole("button", { name: "Save" }).click();
  await expect(observation.getByTestId("observation-state")).toContainText("Shared:");
  const feedback = ann.locator("#feedback-form");
  await feedback.getByLabel("Wrong: it is…").check();
  await feedback.getByLabel("Species (when wrong)").fill("rice water weevil");
  await feedback.getByRole("button", { name: "Send feedback" }).click();
  await expect(ann.getByText("Thank you: your feedback was saved.")).toBeVisible();

  // An administrator accepts it: the photo's species is now confirmed.
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/feedback?state=pending", info);
  const item = page.locator("#feedback-table tr").filter({ has: page.locator(`a[href="/results/${resultId}"]`) });
  await item.locator("input[type=checkbox]").check();
  await page.getByRole("button", { name: "Accept chosen" }).click();
  await expect(item).toHaveCount(0);

  // Its species' pressure page charts it in its region; the administrator sets an alert there.
  await open(page, `/pressure/ip102-11?region=${region}`, info);
  await expect(page.locator("#pressure-chart svg")).toBeVisible();
  await expect(page.locator("#pressure-chart svg rect.this-week title")).toHaveText(/: 1$/);
  await expect(page.locator("#pressure-regions")).toContainText(regionName);
  const set = page.locator("#set-alert");
  await set.getByLabel("Region").selectOption(region);
  await set.getByLabel(/Alert when a week has at least/).fill("1");
  await set.getByRole("button", { name: "Set alert" }).click();
  await expect(page.locator("#alerts li.alert-active").filter({ hasText: regionName })).toContainText(`${regionName}: alert at 1 · this week 1`);
  await page.screenshot({ path: info.outputPath("pressure-desktop.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await open(page, `/pressure/ip102-11?region=${region}`, info);
  await page.screenshot({ path: info.outputPath("pressure-phone.png"), fullPage: true });

  // Ann asks to see alerts and to get them by e-mail (this server has a mail relay): refused
  // until her account has an address, then saved.
  await open(ann, "/pressure", info);
  await expect(ann.locator("#pressure-table")).toContainText("rice water weevil");
  const subscription = ann.locator("#alert-subscription");
  await subscription.getByLabel("Show me pest alerts when I visit").check();
  await subscription.getByLabel(/E-mail them to me/).check();
  await subscription.getByRole("button", { name: "Save" }).click();
  await expect(subscription.getByRole("alert")).toContainText("add an e-mail address on My account");
  await open(ann, "/me", info);
  const profile = ann.locator("#profile-form");
  await profile.getByLabel("Email").fill(`pp${tag}@e2e.test`);
  await profile.getByRole("button", { name: "Save profile" }).click();
  await expect(profile.getByRole("status")).toHaveText("Profile saved.");
  await open(ann, "/pressure", info);
  await subscription.getByLabel("Show me pest alerts when I visit").check();
  await subscription.getByLabel(/E-mail them to me/).check();
  await subscription.getByRole("button", { name: "Save" }).click();
  await expect(subscription.getByRole("status")).toHaveText("Saved.");
  await expect(subscription.locator("input[name=on]")).toBeChecked();
  await expect(subscription.locator("input[name=email]")).toBeChecked();
  await expect(subscription.getByTestId("alert-mail-state")).toContainText(`A confirmation link was mailed to pp${tag}@e2e.test`);
  // She follows the link mailed to her (read from the relay's maildir) and presses Confirm.
  const link = await mailedLink(`pp${tag}@e2e.test`);
  await open(ann, link.replace(/^https?:\/\/[^/]+/, ""), info);
  await expect(ann.getByTestId("alert-mail-address")).toContainText(`pp${tag}@e2e.test`);
  await ann.getByRole("button", { name: "Confirm" }).click();
  await expect(ann.getByRole("status").filter({ hasText: "Confirmed:" })).toHaveText("Confirmed: pest alerts will be mailed to this address.");
  await open(ann, "/pressure", info);
  await expect(subscription.getByTestId("alert-mail-state")).toContainText(`Alerts are mailed to pp${tag}@e2e.test`);
  // Her next visit shows the alert (scripts/test.sh checks that the e-mail went out too).
  await open(ann, "/", info);
  await expect(ann.locator("#pest-alert-banner")).toContainText(`rice water weevil: 1 sightings this week in ${regionName} (alert at 1)`);

  // The same counts as CSV.
  const csv = await ann.request.get(`/api/v1/pressure.csv?species=ip102-11&region=${region}`);
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain(`,ip102-11,"rice water weevil",${region},1`);
});
