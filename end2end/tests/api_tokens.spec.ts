import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open, signUp } from "./util";

// A person makes a personal API token on My account, sees it once, identifies a photo with it
// using curl (as a script would), finds the answer in their history, and revokes the token.
test("an API token made on My account identifies a photo with curl", async ({ page, baseURL }, info) => {
  const name = `tok${info.project.name}${Date.now() % 1_000_000}`;
  await signUp(page, info, name);
  await open(page, "/me", info);
  const form = page.locator("#api-token-form");
  await form.getByLabel("Name").fill("field laptop");
  await form.getByLabel("read: my identifications").check();
  await form.getByRole("button", { name: "Make token" }).click();
  const shown = page.getByTestId("new-api-token");
  await expect(shown).toHaveText(/^iid_[0-9a-f]{64}$/);
  const token = (await shown.textContent()) as string;
  const row = page.locator("#api-token-list tbody tr").filter({ hasText: "field laptop" });
  await expect(row).toContainText(token.slice(0, 12));
  await expect(row).toContainText("identify, read");

  // Shown once: the same address opened again does not show it.
  expect(page.url()).toMatch(/\/me\?token=\d+/);
  // (Without its #fragment: the same URL with it is no new load.)
  await open(page, page.url().replace(/^https?:\/\/[^/]+/, "").split("#")[0], info);
  await expect(page.locator("#api-token-list")).toBeVisible();
  await expect(page.getByTestId("new-api-token")).toHaveCount(0);

  const curl = (...args: string[]) =>
    execFileSync("curl", ["-s", "-w", "\n%{http_code}", "-H", `Authorization: Bearer ${token}`, ...args], { encoding: "utf8" });
  const identified = curl("-F", `image=@${process.env.E2E_PHOTO}`, `${baseURL}/api/v1/identify`).split("\n");
  expect(identified.pop()).toBe("200");
  const answer = JSON.parse(identified.join("\n"));
  const id = answer.results[0].id as number;
  expect(id).toBeGreaterThan(0);
  const mine = curl(`${baseURL}/api/v1/identifications?per_page=5`).split("\n");
  expect(mine.pop()).toBe("200");
  expect(JSON.parse(mine.join("\n")).items.map((i: { id: number }) => i.id)).toContain(id);
  // The README's own examples, as an integrator would paste them (host, token and photo theirs).
  const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
  const block = readme.split("TOKEN=iid_...   # from My account\n")[1].split("```")[0];
  const work = mkdtempSync(join(tmpdir(), "insectid-readme-"));
  copyFileSync(process.env.E2E_PHOTO as string, join(work, "beetle.jpg"));
  const script = block.replaceAll("http://127.0.0.1:3000", baseURL as string);
  const printed = execFileSync("bash", ["-euc", script], { cwd: work, env: { ...process.env, TOKEN: token }, encoding: "utf8" });
  expect(printed).toContain('"results"');
  expect(printed).toContain('"items"');
  // The photo is the person's: it is in their history page.
  await open(page, "/history", info);
  await expect(page.locator(`#history-list li[data-id="${id}"]`)).toBeVisible();

  await open(page, "/me", info);
  await page.locator("#api-token-list").getByRole("button", { name: "Revoke field laptop" }).click();
  await expect(page.locator("#api-token-list tbody tr").filter({ hasText: "field laptop" })).toContainText("revoked");
  const refused = curl(`${baseURL}/api/v1/identifications`).split("\n");
  expect(refused.pop()).toBe("401");

  // A second token made on the same page shows its own secret, not the first one's.
  await form.getByLabel("Name").fill("second laptop");
  await form.getByRole("button", { name: "Make token" }).click();
  const second = page.locator("#api-token-list tbody tr").filter({ hasText: "second laptop" });
  await expect(second).toBeVisible();
  const prefix = ((await second.locator("code").textContent()) as string).replace("…", "");
  await expect(page.getByTestId("new-api-token")).toHaveText(new RegExp(`^${prefix}[0-9a-f]+$`));
  expect(await page.getByTestId("new-api-token").textContent()).not.toBe(token);
});
