import { expect, test } from "@playwright/test";
import { open } from "./util";

const PAGES = ["/", "/upload", "/history", "/models", "/signin", "/signup", "/me", "/users", "/species", "/species/ip102-8", "/feedback", "/label", "/datasets"];

// Screenshots of every page at desktop and phone width; nothing may overflow sideways.
for (const [label, width, height] of [["desktop", 1280, 900], ["phone", 390, 844]] as const) {
  test(`pages fit a ${label} screen`, async ({ page }, info) => {
    await page.setViewportSize({ width, height });
    for (const path of PAGES) {
      await open(page, path, info);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${path} is wider than the ${label} screen`).toBeLessThanOrEqual(0);
      const name = path === "/" ? "home" : path.slice(1).replaceAll("/", "-");
      await page.screenshot({ path: info.outputPath(`${label}-${name}.png`), fullPage: true });
    }
  });
}
