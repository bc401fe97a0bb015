import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as OTPAuth from "otpauth";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildWebApp } from "../src/web/build.js";
import { type Browser, chromiumPath, launchBrowser, warnNoChromium } from "./helpers/browser.js";
import { queryDatabase } from "./helpers/database.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { uniqueCyphrId } from "./helpers/users.js";
import { online, openPage, PASS, register, WAIT } from "./helpers/web-app.js";

/**
 * The account lifecycle in the web app, in a real Chromium against a real server: Alice sets up a
 * recovery phrase and a PIN and turns on two-factor login; a second browser linking to her account
 * is asked for a code; she lists sessions and signs that browser out; she exports her data as a
 * download; a fresh browser recovers the account with the phrase and the PIN; two-factor login is
 * turned off and the account deleted. Screenshots go to test-artifacts/web/account/.
 */

const hasChromium = chromiumPath() !== undefined;
if (!hasChromium) warnNoChromium();

const STEP_MS = 180_000;
const PIN = "4826 1937";

describe.skipIf(!hasChromium)("the account lifecycle in the web app (Chromium)", () => {
  let server: TestServer;
  let browser: Browser;
  const alice = uniqueCyphrId("alice");
  let alicePage: Page;
  let linkedPage: Page;
  let recoveredPage: Page;
  let phrase: string;
  let totp: OTPAuth.TOTP;
  /** How far the server's account clock runs ahead: each code the test sends is of a new 30 s step (a code is accepted once). */
  let skewMs = 0;

  /** A code of a step the server has not accepted yet: the server's TOTP clock moves on one step, the code is computed here. */
  const nextCode = (): string => {
    skewMs += 30_000;
    server.app.account.now = () => Date.now() + skewMs;
    return totp.generate({ timestamp: Date.now() + skewMs });
  };

  const security = (page: Page) => page.getByRole("region", { name: "Account & security" });
  const openSecurity = async (page: Page) => {
    await page.getByRole("button", { name: "Account & security" }).click();
    await security(page).waitFor(WAIT);
  };
  const part = (page: Page, name: string) => security(page).getByRole("region", { name });
  const signInScreen = (page: Page) => page.getByRole("form", { name: "Sign in" });
  /** What a section says is set (from GetSecuritySettings). */
  const stateOf = (page: Page, testId: string) => () => security(page).getByTestId(testId).textContent();
  const today = () => new Date().toISOString().slice(0, 10);

  beforeAll(async () => {
    const webDir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-web-")), "web");
    await buildWebApp(webDir);
    server = await startTestServer({ env: { WEB_DIR: webDir } });
    browser = await launchBrowser("account");
  });
  afterEach(async (context) => {
    if (context.task.result?.state !== "fail") return;
    for (const [name, page] of Object.entries({ alice: alicePage, linked: linkedPage, recovered: recoveredPage })) {
      if (!page || page.isClosed()) continue;
      await browser.screenshot(page, `failed-${context.task.name.slice(0, 30).replace(/\W+/g, "-")}-${name}`);
      console.error(`[${name}] status lines: ${JSON.stringify(await page.locator(".status.error").allTextContents())}`);
    }
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  }, STEP_MS);

  it(
    "sets up a recovery phrase (shown once, saved only once written down) and a PIN (changing it needs the current one)",
    async () => {
      alicePage = await openPage(browser, "alice", `${server.baseUrl}/`);
      await register(alicePage, alice);
      await online(alicePage);
      await openSecurity(alicePage);

      const recovery = part(alicePage, "Recovery phrase");
      await expect.poll(stateOf(alicePage, "recovery-state"), WAIT).toBe("Not set: losing every device would lose the account.");
      await expect.poll(stateOf(alicePage, "pin-state"), WAIT).toBe("No PIN is set.");
      expect(await part(alicePage, "PIN").getByRole("form", { name: "Remove the PIN" }).isVisible()).toBe(false);
      await recovery.getByRole("button", { name: "Create a recovery phrase" }).click();
      const words = await recovery.getByTestId("recovery-phrase").locator("li").allTextContents();
      expect(words).toHaveLength(24);
      phrase = words.join(" ");
      const save = recovery.getByRole("button", { name: "Save recovery phrase" });
      expect(await save.isDisabled()).toBe(true);
      await browser.screenshot(alicePage, "01-recovery-phrase");
      await recovery.getByLabel("I wrote it down").check();
      await save.click();
      await recovery.getByText("Recovery phrase saved").waitFor(WAIT);
      expect(await recovery.getByTestId("recovery-phrase").count()).toBe(0);
      await expect.poll(stateOf(alicePage, "recovery-state"), WAIT).toBe(`Set on ${today()}.`);
      expect(await recovery.getByRole("button", { name: "Replace the recovery phrase" }).isVisible()).toBe(true);
      const stored = await queryDatabase<{ n: number }>(
        server.databaseUrl,
        "SELECT count(*)::int AS n FROM account_recovery_keys k JOIN identities i ON i.id = k.user_id WHERE i.cyphr_id = $1",
        [alice],
      );
      expect(stored[0]!.n).toBe(1);

      const pin = part(alicePage, "PIN");
      const setForm = pin.getByRole("form", { name: "Set or change the PIN" });
      await setForm.getByLabel("New PIN", { exact: true }).fill("0000 0000");
      await setForm.getByLabel("Repeat the new PIN").fill("0000 0000");
      await setForm.getByRole("button", { name: "Save PIN" }).click();
      await pin.getByText("PIN saved").waitFor(WAIT);
      await expect.poll(stateOf(alicePage, "pin-state"), WAIT).toBe(`Set on ${today()}.`);
      await pin.getByRole("form", { name: "Remove the PIN" }).waitFor(WAIT);
      // Changing it without the current PIN is refused by the server; with it, the new PIN is saved.
      await setForm.getByLabel("New PIN", { exact: true }).fill(PIN);
      await setForm.getByLabel("Repeat the new PIN").fill(PIN);
      await setForm.getByRole("button", { name: "Save PIN" }).click();
      await pin.locator(".status.error", { hasText: "wrong PIN" }).waitFor(WAIT);
      await setForm.getByLabel("Current PIN (when changing it)").fill("0000 0000");
      await setForm.getByRole("button", { name: "Save PIN" }).click();
      await pin.locator(".status.info", { hasText: "PIN saved" }).waitFor(WAIT);
      await browser.screenshot(alicePage, "02-pin");
    },
    STEP_MS,
  );

  it(
    "turns on two-factor login with the QR code and secret; a browser linking to the account is asked for a code",
    async () => {
      const factor = part(alicePage, "Two-factor login");
      await factor.getByRole("button", { name: "Turn on two-factor login" }).click();
      await factor.getByRole("img", { name: "QR code for your authenticator app" }).waitFor(WAIT);
      const secret = await factor.getByLabel("Secret (to type in)").inputValue();
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
      await browser.screenshot(alicePage, "03-totp-enrol");
      await factor.getByLabel("Code from the app").fill(nextCode());
      await factor.getByRole("button", { name: "Confirm" }).click();
      await factor.getByText("Two-factor login is on").waitFor(WAIT);
      await expect.poll(stateOf(alicePage, "totp-state"), WAIT).toBe(`On since ${today()}.`);
      expect(await factor.getByRole("button", { name: "Turn on two-factor login" }).isVisible()).toBe(false);

      linkedPage = await openPage(browser, "alice-linked", `${server.baseUrl}/`);
      await linkedPage.getByLabel("Passphrase for this browser").fill(PASS);
      await linkedPage.getByRole("button", { name: "Link this browser" }).click();
      const code = await linkedPage.getByTestId("link-code").inputValue(WAIT);
      await alicePage.getByRole("button", { name: "Devices" }).click();
      await alicePage.getByLabel("Link code shown on the new device").fill(code);
      await alicePage.getByLabel("Name for it (optional)").fill("linked browser");
      await alicePage.getByRole("button", { name: "Approve" }).click();
      await alicePage.getByRole("dialog").getByText("linked browser").waitFor(WAIT);
      await alicePage.keyboard.press("Escape");

      // Approved, but its first login needs the code: the sign-in screen asks for it.
      const signIn = signInScreen(linkedPage);
      await signIn.getByLabel("Two-factor code").waitFor(WAIT);
      await browser.screenshot(linkedPage, "04-linked-asks-code");
      await signIn.getByLabel("Two-factor code").fill(nextCode());
      await signIn.getByRole("button", { name: "Sign in" }).click();
      await linkedPage.locator(".me strong", { hasText: alice }).waitFor(WAIT);
      await online(linkedPage);
    },
    STEP_MS,
  );

  it(
    "lists sessions; revoking the other one signs that browser out at once, and so does signing out all others",
    async () => {
      const sessions = part(alicePage, "Sessions");
      await sessions.getByRole("button", { name: "Refresh" }).click();
      await expect.poll(() => sessions.getByRole("list", { name: "Sessions" }).locator("li").count(), WAIT).toBe(2);
      const current = sessions.locator("li", { hasText: "this browser" });
      expect(await current.getAttribute("data-device")).toBe("1");
      expect(await current.textContent()).toMatch(/Signed in .+ · last used /);
      await browser.screenshot(alicePage, "05-sessions");
      await sessions.getByRole("button", { name: "Revoke the session of device 2" }).click();
      await expect.poll(() => sessions.getByRole("list", { name: "Sessions" }).locator("li").count(), WAIT).toBe(1);

      // The linked browser's stream ends: it shows the sign-in screen, and signing in asks for a code again.
      const signIn = signInScreen(linkedPage);
      await signIn.getByText("signed out").waitFor(WAIT);
      await browser.screenshot(linkedPage, "06-linked-signed-out");
      await signIn.getByRole("button", { name: "Sign in" }).click();
      await signIn.getByLabel("Two-factor code").waitFor(WAIT);
      await signIn.getByLabel("Two-factor code").fill(nextCode());
      await signIn.getByRole("button", { name: "Sign in" }).click();
      await online(linkedPage);

      await sessions.getByRole("button", { name: "Sign out all other sessions" }).click();
      await sessions.getByText("1 other session signed out.").waitFor(WAIT);
      await signInScreen(linkedPage).getByText("signed out").waitFor(WAIT);
      // Reloaded, the profile unlocks to the sign-in screen: its stored session is no longer valid.
      await linkedPage.reload();
      await linkedPage.getByRole("form", { name: "Welcome back" }).getByLabel("Passphrase").fill(PASS);
      await linkedPage.getByRole("button", { name: "Unlock" }).click();
      await signInScreen(linkedPage).getByText(`holds the keys of ${alice}`).waitFor(WAIT);
    },
    STEP_MS,
  );

  it(
    "exports the account's data as a JSON download named with the Cyphr ID and the date",
    async () => {
      const download = alicePage.waitForEvent("download", WAIT);
      await part(alicePage, "Your data").getByRole("button", { name: "Download my data" }).click();
      const file = await download;
      expect(file.suggestedFilename()).toBe(`cyphr-export-${alice}-${new Date().toISOString().slice(0, 10)}.json`);
      const data = JSON.parse(await fs.readFile((await file.path())!, "utf8")) as Record<string, unknown> & {
        identities: { cyphr_id: string };
        devices: unknown[];
      };
      expect(data.format).toBe("cyphr-account-export-v1");
      expect(data.identities.cyphr_id).toBe(alice);
      expect(data.devices).toHaveLength(2);
      // What this screen set up is in it (never the PIN hash or the TOTP secret, which the server leaves out).
      for (const table of ["account_pins", "account_recovery_keys", "account_totp"]) expect(data[table], table).not.toBeNull();
    },
    STEP_MS,
  );

  it(
    "recovers the account in a fresh browser with the phrase and the PIN; the old browsers are signed out",
    async () => {
      recoveredPage = await openPage(browser, "alice-recovered", `${server.baseUrl}/`);
      const form = recoveredPage.getByRole("form", { name: "Recover account" });
      await form.getByLabel("Cyphr ID").fill(alice);
      await form.getByLabel("Recovery phrase").fill(phrase);
      await form.getByLabel("PIN (if you set one)").fill("0000 0000");
      await form.getByLabel("New browser passphrase").fill(PASS);
      await form.getByLabel("Repeat the browser passphrase").fill(PASS);
      await form.getByRole("button", { name: "Recover account" }).click();
      await recoveredPage.locator(".status.error", { hasText: "account recovery failed" }).waitFor(WAIT);
      await form.getByLabel("PIN (if you set one)").fill(PIN);
      await form.getByRole("button", { name: "Recover account" }).click();
      await recoveredPage.locator(".me strong", { hasText: alice }).waitFor(WAIT);
      await online(recoveredPage);
      await browser.screenshot(recoveredPage, "07-recovered");
      // Recovery removed every old device: the first browser's stream ends, and its device is gone for good.
      const oldSignIn = signInScreen(alicePage);
      await oldSignIn.getByText("signed out").waitFor(WAIT);
      await oldSignIn.getByRole("button", { name: "Sign in" }).click();
      await oldSignIn.locator(".status.error", { hasText: "invalid login credentials" }).waitFor(WAIT);
      // Removing the dead profile asks first; "Keep it" keeps it.
      await oldSignIn.getByRole("button", { name: "Remove this profile from this browser" }).click();
      await oldSignIn.getByRole("group", { name: "Remove this profile" }).getByText(`This deletes the keys of ${alice}`).waitFor(WAIT);
      await oldSignIn.getByRole("button", { name: "Keep it" }).click();
      expect(await profilesIn(alicePage)).toHaveLength(1);
      await oldSignIn.getByRole("button", { name: "Remove this profile from this browser" }).click();
      await oldSignIn.getByRole("button", { name: "Remove profile" }).click();
      await alicePage.getByRole("form", { name: "New account" }).waitFor(WAIT);
      expect(await alicePage.getByRole("form", { name: "Welcome back" }).count()).toBe(0);
      expect(await profilesIn(alicePage)).toEqual([]);
    },
    STEP_MS,
  );

  it(
    "works at phone width; turns two-factor login off with a code; deleting needs the typed Cyphr ID and clears the browser",
    async () => {
      await recoveredPage.setViewportSize({ width: 390, height: 844 });
      // From the keyboard: Enter on the sidebar's button opens the pane and moves focus to its heading.
      await recoveredPage.getByRole("button", { name: "Account & security" }).focus();
      await recoveredPage.keyboard.press("Enter");
      await security(recoveredPage).waitFor(WAIT);
      expect(
        await recoveredPage.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id),
      ).toBe("security-title");
      expect(await recoveredPage.locator(".sidebar").isVisible()).toBe(false);
      await browser.screenshot(recoveredPage, "08-phone-security");

      const factor = part(recoveredPage, "Two-factor login");
      await factor.getByLabel("Code to turn it off").fill(nextCode());
      await factor.getByRole("button", { name: "Turn off" }).click();
      await factor.getByText("Two-factor login is off.").waitFor(WAIT);
      await expect.poll(stateOf(recoveredPage, "totp-state"), WAIT).toBe("Off.");
      await factor.getByRole("button", { name: "Turn on two-factor login" }).waitFor(WAIT);

      const remove = part(recoveredPage, "Delete account");
      const button = remove.getByRole("button", { name: "Delete account" });
      await remove.getByLabel(`Type ${alice} to confirm`).fill(`${alice}x`);
      expect(await button.isDisabled()).toBe(true);
      await remove.getByLabel(`Type ${alice} to confirm`).fill(alice);
      await button.click();
      await recoveredPage.getByRole("form", { name: "New account" }).waitFor(WAIT);
      expect(await recoveredPage.getByRole("form", { name: "Welcome back" }).count()).toBe(0);
      expect(await profilesIn(recoveredPage)).toEqual([]);
      await browser.screenshot(recoveredPage, "09-deleted");
      expect(await queryDatabase(server.databaseUrl, "SELECT 1 FROM identities WHERE cyphr_id = $1", [alice])).toEqual([]);
    },
    STEP_MS,
  );
});

/** The Cyphr profiles in the page's IndexedDB (this file is typed for Node, so the browser global is declared here). */
async function profilesIn(page: Page): Promise<string[]> {
  type PageIdb = { indexedDB: { databases(): Promise<{ name?: string }[]> } };
  const databases = await page.evaluate(async () => (await (globalThis as unknown as PageIdb).indexedDB.databases()).map((d) => d.name ?? ""));
  return databases.filter((n) => n.startsWith("cyphr-profile-"));
}
