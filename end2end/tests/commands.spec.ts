import { expect, test } from "@playwright/test";
import { ADMIN, open, signIn, signUp } from "./util";

test("predefined commands run as background jobs with a live log; nothing else can be run", async ({ page }, info) => {
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/commands", info);
  for (const name of ["fine-tune", "evaluate", "make-int8-model", "import-dataset", "export-dataset", "re-run-predictions", "clean-orphaned-files", "describe-classes", "vacuum"]) {
    await expect(page.locator(`#command-${name}`)).toHaveCount(1);
  }
  await page.locator("#command-vacuum").getByRole("button", { name: "Run" }).click();
  await expect(page).toHaveURL(/\/jobs\/\d+$/);
  await expect(async () => {
    if (info.project.name !== "js") await page.reload();
    await expect(page.locator("#job")).toHaveAttribute("data-state", "succeeded", { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(page.locator("#job-log")).toContainText("VACUUM");
  // It is listed, with its outcome.
  await open(page, "/commands", info);
  await expect(page.locator("#jobs tbody tr").first()).toContainText("vacuum");

  // Values outside a command's declaration, and commands that do not exist, are refused.
  const post = (form: Record<string, string>) => page.request.post("/api/run_command", { form });
  let r = await post({ command: "clean-orphaned-files", "values[grace_minutes]": "-5" });
  expect(r.status()).toBe(400);
  expect(await r.text()).toContain("between 0 and 10080");
  r = await post({ command: "vacuum", "values[script]": "rm -rf /" });
  expect(r.status()).toBe(400);
  expect(await r.text()).toContain("takes no parameter");
  r = await post({ command: "shell", "values[cmd]": "id" });
  expect(r.status()).toBe(404);
});

test("people who are not administrators cannot see or run commands", async ({ page }, info) => {
  await signUp(page, info, `cmd-${info.project.name}-${Date.now()}`);
  await open(page, "/commands", info);
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page.locator("#command-vacuum")).toHaveCount(0);
  const r = await page.request.post("/api/run_command", { form: { command: "vacuum" } });
  expect(r.status()).toBe(403);
  expect((await page.request.get("/jobs/1/files/report.json")).status()).toBe(403);
});
