import { expect, Page, test } from "@playwright/test";
import { ADMIN, open, signIn } from "./util";

// scripts/test.sh starts a throw-away sshd and configures three presets for it.
const SSH_USER = process.env.INSECTID_TEST_SSH_USER as string;
const SSH_PASSWORD = process.env.INSECTID_TEST_SSH_PASSWORD as string;

const screen = (page: Page) => page.locator("#terminal .xterm-rows");

async function run(page: Page, command: string) {
  await page.locator("#terminal").click();
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
}

test("an administrator opens a shell on a preset host, types, resizes, and the key is pinned", async ({ page }, info) => {
  expect(SSH_USER, "set by scripts/test.sh").toBeTruthy();
  await signIn(page, info, ADMIN.name, ADMIN.password);
  await open(page, "/terminal", info);
  await expect(page.locator("#terminal-preset option")).toHaveCount(3);
  if (info.project.name !== "js") {
    await expect(page.getByText("The terminal needs JavaScript.")).toBeVisible();
    return;
  }
  // The first connection shows the host key for confirmation; accepting pins it.
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.accept();
  });
  await page.locator("#terminal-preset").selectOption("test-key");
  await page.locator("#terminal-connect").click();
  await expect(page.locator("#terminal-status")).toContainText(`Connected to ${SSH_USER}@127.0.0.1`, { timeout: 20_000 });
  expect(dialogs.join()).toContain("SHA256:");
  await expect(page.locator("#terminal-status")).toContainText("latency", { timeout: 15_000 });
  await run(page, "stty size; echo ready-$((6*7))");
  await expect(screen(page)).toContainText("ready-42");
  const before = (await screen(page).textContent()) ?? "";
  const size = before.match(/(\d+) (\d+)\s*ready-42/);
  expect(size, before).toBeTruthy();

  // The PTY follows the window.
  await page.setViewportSize({ width: 900, height: 600 });
  await run(page, "clear; stty size; echo resized-$((7*7))");
  await expect(screen(page)).toContainText("resized-49");
  const after = ((await screen(page).textContent()) ?? "").match(/(\d+) (\d+)\s*resized-49/);
  expect(after).toBeTruthy();
  expect(`${after![1]} ${after![2]}`).not.toBe(`${size![1]} ${size![2]}`);
  await page.screenshot({ path: info.outputPath("terminal.png"), fullPage: true });

  await page.locator("#terminal-disconnect").click();
  await expect(page.locator("#terminal-status")).toContainText("Disconnected");
  // Reconnecting needs no confirmation now: the key is pinned.
  const asked = dialogs.length;
  await page.locator("#terminal-reconnect").click();
  await expect(page.locator("#terminal-status")).toContainText("Connected to", { timeout: 20_000 });
  expect(dialogs.length).toBe(asked);
  await open(page, "/terminal", info);
  await expect(page.locator(".presets")).toContainText("test-key: host key SHA256:");

  // Password login: asked in the page, never stored.
  await page.locator("#terminal-preset").selectOption("test-password");
  await page.locator("#terminal-password").fill(SSH_PASSWORD);
  await page.locator("#terminal-connect").click();
  await expect(page.locator("#terminal-status")).toContainText("Connected to", { timeout: 20_000 });
  await run(page, "echo me-$(whoami)");
  await expect(screen(page)).toContainText(`me-${SSH_USER}`);

  // A host presenting another key than the pinned one is refused loudly.
  await page.locator("#terminal-preset").selectOption("test-wrong-key");
  await page.locator("#terminal-connect").click();
  await expect(page.locator("#terminal-status")).toContainText("HOST KEY CHANGED", { timeout: 20_000 });

  // Every session is in the audit log, without credentials.
  await open(page, "/users", info);
  await expect(page.locator("#audit-table")).toContainText("terminal.opened");
  await expect(page.locator("#audit-table")).toContainText("terminal.host_key_changed");
  await expect(page.locator("#audit-table")).not.toContainText(SSH_PASSWORD);
});

test("the terminal refuses anonymous people and non-administrators, page and websocket", async ({ page }, info) => {
  await open(page, "/terminal", info);
  await expect(page.locator("#terminal-error")).toContainText("sign in first");
  const anonymous = await page.request.get("/terminal/ws?preset=test-key");
  expect(anonymous.status()).toBe(401);
});
