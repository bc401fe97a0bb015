/** Driving the web app's pages in the browser suites: open a profile's page, register, wait until online. */
import type { Page } from "playwright-core";
import type { Browser } from "./browser.js";

/** The passphrase every test profile uses for its keys in IndexedDB. */
export const PASS = "correct horse battery";
/** Generous waits: each step drives several browsers through MLS and scrypt on a shared 2-core machine. */
export const WAIT = { timeout: 30_000 };

/** A new browser profile with one page at `url`; its page errors go to the test's stderr. */
export async function openPage(browser: Browser, name: string, url: string): Promise<Page> {
  const context = await browser.context(name);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => console.error(`[${name}] page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && console.error(`[${name}] console: ${m.text()}`));
  await page.goto(url);
  return page;
}

/** Fills and submits the welcome screen's "New account" form. */
export async function register(page: Page, cyphrId: string): Promise<void> {
  const form = page.getByRole("form", { name: "New account" });
  await form.getByLabel("Cyphr ID").fill(cyphrId);
  await form.getByLabel("Passphrase", { exact: true }).fill(PASS);
  await form.getByLabel("Repeat passphrase").fill(PASS);
  await form.getByRole("button", { name: "Create account" }).click();
}

/** Waits until the page's realtime stream has caught up. */
export async function online(page: Page): Promise<void> {
  await page.locator(".connection[data-state=caught_up]").waitFor(WAIT);
}
