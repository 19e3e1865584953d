import { readFileSync } from "node:fs";
import { Browser, expect, Page, test, TestInfo } from "@playwright/test";
import { ADMIN, open, signIn, signUp } from "./util";

const PHOTO = process.env.E2E_PHOTO as string;

async function newUser(browser: Browser, info: TestInfo, name: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: info.project.use.baseURL, javaScriptEnabled: info.project.use.javaScriptEnabled });
  const page = await context.newPage();
  await signUp(page, info, name);
  return page;
}

/** Signs the administrator in on `page` and gives `name` the labeler role. */
async function makeLabeler(page: Page, info: TestInfo, name: string) {
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, `/users?q=${name}`, info);
  const row = page.locator(`tr[data-username="${name}"]`);
  await row.getByLabel(`Role of ${name}`).selectOption("labeler");
  await row.getByRole("button", { name: "Set role" }).click();
  await expect(page.locator("#audit-table tr").filter({ hasText: name }).filter({ hasText: "user.role_changed" })).toHaveCount(1);
}

test("a wrong answer flagged by a user, accepted by a labeler, lands in a new dataset version's export", async ({ page, browser }, info) => {
  const tag = `${info.project.name}${Date.now() % 1_000_000}`;
  // A photo of its own: the same picture with a few bytes after the JPEG's end, so its digest
  // (and label) belong to this run alone.
  const bytes = Buffer.concat([readFileSync(PHOTO), Buffer.from(`run ${tag}`)]);

  const ann = await newUser(browser, info, `ann${tag}`);
  await open(ann, "/upload", info);
  await ann.locator("#upload-form input[type=file]").setInputFiles({ name: "weevil.jpg", mimeType: "image/jpeg", buffer: bytes });
  await ann.getByRole("button", { name: "Identify" }).click();
  await expect(ann).toHaveURL(/\/results\/\d+/);
  const resultId = ann.url().match(/\/results\/(\d+)/)![1];
  await open(ann, new URL(ann.url()).pathname, info);
  const feedback = ann.locator("#feedback-form");
  await feedback.getByLabel("Wrong: it is…").check();
  await feedback.getByLabel("Species (when wrong)").fill("a purple dragon");
  await feedback.getByRole("button", { name: "Send feedback" }).click();
  await expect(ann.locator("#feedback").getByRole("alert")).toContainText("not a species in the catalogue");
  await feedback.getByLabel("Wrong: it is…").check();
  await feedback.getByLabel("Species (when wrong)").fill("rice water weevil");
  await feedback.getByLabel("Comment (optional)").fill("white scars on the leaves");
  await feedback.getByRole("button", { name: "Send feedback" }).click();
  await expect(ann.getByText("Thank you: your feedback was saved.")).toBeVisible();
  await open(ann, `/results/${resultId}`, info);
  await expect(ann.getByTestId("feedback-state")).toHaveText("Waiting for a labeler's review.");

  // An administrator makes a labeler of a new account.
  const labName = `lab${tag}`;
  const lab = await newUser(browser, info, labName);
  await makeLabeler(page, info, labName);

  // The labeler finds the feedback in the queue and accepts it.
  await open(lab, "/feedback?state=pending", info);
  const item = lab.locator("#feedback-table tr").filter({ has: lab.locator(`a[href="/results/${resultId}"]`) });
  await expect(item).toContainText("it is rice water weevil");
  await expect(item).toContainText("white scars on the leaves");
  await item.locator("input[type=checkbox]").check();
  await lab.getByRole("button", { name: "Accept chosen" }).click();
  // Reviewed, it leaves the pending queue (the list reloads with or without JavaScript).
  await expect(item).toHaveCount(0);
  await open(lab, "/feedback?state=accepted", info);
  await expect(lab.locator("#feedback-table tr").filter({ has: lab.locator(`a[href="/results/${resultId}"]`) })).toContainText("accepted");
  await lab.screenshot({ path: info.outputPath("feedback.png"), fullPage: true });

  // The user sees the outcome on their result.
  await open(ann, `/results/${resultId}`, info);
  await expect(ann.getByTestId("feedback-state")).toHaveText("Accepted: the photo now carries this label.");

  // A new dataset version holds the photo with its label, and its export says so.
  const dataset = `loop-${tag}`;
  await open(lab, "/datasets", info);
  const create = lab.locator("#create-version-form");
  await create.getByLabel("Dataset name").fill(dataset);
  await create.getByRole("button", { name: "Make version" }).click();
  const version = lab.locator(`tr[data-spec="${dataset}@1"]`);
  await expect(version).toHaveCount(1);
  await lab.screenshot({ path: info.outputPath("datasets.png"), fullPage: true });
  // A download is a POST that queues an export; the archive is fetched once it is ready.
  const asked = await lab.request.post("/api/export_dataset", {
    form: { spec: `${dataset}@1`, layout: "ip102" },
    headers: { Accept: "application/json" },
  });
  expect(asked.status()).toBe(200);
  const job = await asked.json();
  await expect
    .poll(async () => {
      const list = await lab.request.post("/api/my_downloads", { headers: { Accept: "application/json" } });
      return (await list.json()).find((d: { job_id: number; ready: boolean }) => d.job_id === job)?.ready;
    }, { timeout: 60_000 })
    .toBe(true);
  expect((await lab.request.get(`/datasets/${dataset}@1/export.zip?layout=ip102`)).status()).toBe(404);
  const zip = await lab.request.get(`/jobs/${job}/export.zip`);
  expect(zip.status()).toBe(200);
  expect(zip.headers()["content-type"]).toBe("application/zip");
  const body = (await zip.body()).toString("latin1");
  const sha = (await import("node:crypto")).createHash("sha256").update(bytes).digest("hex");
  // Photos are stored uncompressed in the archive, so its lists can be read in the bytes.
  expect(body).toContain("classes.txt");
  expect(body).toContain(" rice water weevil\n");
  expect(body).toMatch(new RegExp(`images/${sha}\\.(jpg|png)`));
  const refused = await ann.request.get(`/jobs/${job}/export.zip`);
  expect(refused.status()).toBe(403);
  await ann.context().close();
  await lab.context().close();
});

test("the labelling workspace skips and undoes, from the keyboard once hydrated", async ({ page: adminPage, browser }, info) => {
  let page = adminPage;
  const tag = `${info.project.name}${Date.now() % 1_000_000}`;
  // Two photos of its own, so there is always a next one after a skip.
  const ann = await newUser(browser, info, `bea${tag}`);
  for (const n of [1, 2]) {
    await open(ann, "/upload", info);
    const bytes = Buffer.concat([readFileSync(PHOTO), Buffer.from(`label ${tag} ${n}`)]);
    await ann.locator("#upload-form input[type=file]").setInputFiles({ name: `x${n}.jpg`, mimeType: "image/jpeg", buffer: bytes });
    await ann.getByRole("button", { name: "Identify" }).click();
    await expect(ann).toHaveURL(/\/results\/\d+/);
  }

  // A labeler of this run's own, so no other test's votes mix with theirs.
  const labName = `leo${tag}`;
  const lab = await newUser(browser, info, labName);
  await makeLabeler(page, info, labName);
  page = lab;
  await open(page, "/label", info);
  await expect(page.locator("#label-photo")).toBeVisible();
  await expect(page.locator("#label-form .suggestions button")).toHaveCount(5);
  const before = await page.locator("#label-form input[name=sha]").inputValue();
  if (info.project.name === "js") {
    await page.keyboard.press("s");
  } else {
    await page.getByRole("button", { name: "S Skip" }).click();
  }
  await expect(page.locator("#label-form input[name=sha]")).not.toHaveValue(before);
  await expect(page.locator("#labeler-counts tr").filter({ hasText: labName })).toContainText("0");
  if (info.project.name === "js") {
    await page.keyboard.press("u");
  } else {
    await page.getByRole("button", { name: "U Undo" }).click();
  }
  await expect(page.locator("#label-form input[name=sha]")).toHaveValue(before);
  await expect(page.locator("#labeler-counts tr").filter({ hasText: labName })).toHaveCount(0);
  await page.screenshot({ path: info.outputPath("label.png"), fullPage: true });
  await ann.context().close();
  await lab.context().close();
});
