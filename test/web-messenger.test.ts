import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, newRecoveryPhrase, recoverAccount } from "../src/sdk/index.js";
import { nodeTransport } from "../src/sdk/node/transport.js";
import { buildWebApp } from "../src/web/build.js";
import { staticSiteListener } from "../src/web/static-server.js";
import { type Browser, chromiumPath, launchBrowser, warnNoChromium } from "./helpers/browser.js";
import { registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { uniqueCyphrId } from "./helpers/users.js";
import { online, openPage, PASS, register, WAIT } from "./helpers/web-app.js";

/**
 * The web messenger in a real Chromium (Debian's, headless) against a real server: two users
 * register in two browser profiles and chat live both ways (typing, receipts, unread counts); a
 * third profile links as Alice's second device and receives new messages; a reload resumes without
 * duplicates; a page served from another origin works when listed in CORS_ALLOWED_ORIGINS and is
 * refused when not; a peer's safety-number change shows in the open chat. Screenshots of each step go to test-artifacts/web/messenger/.
 */

const hasChromium = chromiumPath() !== undefined;
if (!hasChromium) warnNoChromium();

/** Each step drives up to three browsers through MLS operations on a shared 2-core machine. */
const STEP_MS = 180_000;

/** An HTTP server on port 0 whose handler is set later (its origin must be known before the API starts). */
async function reservePort(): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function openChat(page: Page, title: string): Promise<void> {
  await page.getByRole("option", { name: new RegExp(title) }).click();
  await page.locator("#chat-title", { hasText: title }).waitFor(WAIT);
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await page.locator(".message.own .text", { hasText: text }).waitFor(WAIT);
}

const messageRows = (page: Page, text: string) => page.locator(".message .text", { hasText: new RegExp(`^${text}$`) });

describe.skipIf(!hasChromium)("the web messenger in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  let listed: Awaited<ReturnType<typeof reservePort>>;
  let unlisted: Awaited<ReturnType<typeof reservePort>>;
  const alice = uniqueCyphrId("alice");
  const bob = uniqueCyphrId("bob");
  let alicePage: Page;
  let bobPage: Page;
  let carol: string;
  let carolPage: Page;

  beforeAll(async () => {
    const webDir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-web-")), "web");
    await buildWebApp(webDir);
    listed = await reservePort();
    unlisted = await reservePort();
    server = await startTestServer({ env: { WEB_DIR: webDir, CORS_ALLOWED_ORIGINS: listed.origin } });
    listed.server.on("request", staticSiteListener(webDir, server.baseUrl));
    unlisted.server.on("request", staticSiteListener(webDir, server.baseUrl));
    browser = await launchBrowser("messenger");
  });
  // A failed step leaves a screenshot of every page and their error lines.
  afterEach(async (context) => {
    if (context.task.result?.state !== "fail") return;
    const pages = { alice: alicePage, bob: bobPage, carol: carolPage };
    for (const [name, page] of Object.entries(pages)) {
      if (!page || page.isClosed()) continue;
      await browser.screenshot(page, `failed-${context.task.name.slice(0, 30).replace(/\W+/g, "-")}-${name}`);
      console.error(`[${name}] status lines: ${JSON.stringify(await page.locator(".status.error").allTextContents())}`);
    }
  });
  afterAll(async () => {
    await browser?.close();
    listed?.server.close();
    unlisted?.server.close();
    await server?.close();
  }, STEP_MS);

  it(
    "two users register in two browsers and chat live both ways",
    async () => {
      alicePage = await openPage(browser, "alice", `${server.baseUrl}/`);
      bobPage = await openPage(browser, "bob", `${server.baseUrl}/`);
      await browser.screenshot(alicePage, "01-welcome");
      await register(alicePage, alice);
      await register(bobPage, bob);
      await online(alicePage);
      await online(bobPage);

      await alicePage.getByLabel("Start a chat with").fill(bob);
      await alicePage.getByRole("button", { name: "Chat", exact: true }).click();
      await alicePage.locator("#chat-title", { hasText: bob }).waitFor(WAIT);
      await send(alicePage, "hello bob");
      await browser.screenshot(alicePage, "02-alice-sent");

      // Bob's list gets the new chat with one unread message, live.
      const bobRow = bobPage.getByRole("option", { name: new RegExp(alice) });
      await bobRow.locator(".badge", { hasText: "1" }).waitFor(WAIT);
      await browser.screenshot(bobPage, "03-bob-unread");
      await openChat(bobPage, alice);
      await messageRows(bobPage, "hello bob").waitFor(WAIT);
      await expect.poll(() => bobRow.locator(".badge").count(), WAIT).toBe(0);

      // Alice is not Bob's contact yet: Bob accepts the message request, so his typing and receipts reach her.
      await bobPage.getByRole("region", { name: "Message request" }).waitFor(WAIT);
      await browser.screenshot(bobPage, "03b-bob-request");
      await bobPage.getByRole("button", { name: "Accept" }).click();
      await expect.poll(() => bobPage.getByRole("region", { name: "Message request" }).count(), WAIT).toBe(0);
      // Bob types: Alice sees it; Bob answers: Alice sees it live; Alice's message shows as read.
      await bobPage.getByLabel("Message", { exact: true }).pressSequentially("hi al", { delay: 400 });
      await alicePage.locator(".typing", { hasText: `${bob} is typing` }).waitFor(WAIT);
      await browser.screenshot(alicePage, "04-alice-sees-typing");
      await bobPage.getByLabel("Message", { exact: true }).fill("");
      await send(bobPage, "hi alice");
      await messageRows(alicePage, "hi alice").waitFor(WAIT);
      await alicePage.locator('.message.own[data-receipt="read"]').first().waitFor(WAIT);
      await browser.screenshot(alicePage, "05-alice-live-reply");
      await browser.screenshot(bobPage, "05-bob-chat");
    },
    STEP_MS,
  );

  it(
    "a third browser links as Alice's second device and receives new messages",
    async () => {
      const linkPage = await openPage(browser, "alice-2", `${server.baseUrl}/`);
      await linkPage.getByLabel("Passphrase for this browser").fill(PASS);
      await linkPage.getByRole("button", { name: "Link this browser" }).click();
      const code = await linkPage.getByTestId("link-code").inputValue(WAIT);
      expect(code).toMatch(/^cyphr-link-v1\./);
      expect(await linkPage.getByRole("img", { name: "QR code of the link code" }).isVisible()).toBe(true);
      await browser.screenshot(linkPage, "06-link-code");

      await alicePage.getByRole("button", { name: "Devices" }).click();
      await alicePage.getByLabel("Link code shown on the new device").fill(code);
      await alicePage.getByLabel("Name for it (optional)").fill("second browser");
      await alicePage.getByRole("button", { name: "Approve" }).click();
      await alicePage.getByRole("dialog").getByText("second browser").waitFor(WAIT);
      await browser.screenshot(alicePage, "07-devices");
      await alicePage.keyboard.press("Escape");

      await linkPage.locator(".me strong", { hasText: alice }).waitFor(WAIT);
      await online(linkPage);
      await openChat(linkPage, bob);
      await send(bobPage, "to both of you");
      await messageRows(linkPage, "to both of you").waitFor(WAIT);
      await messageRows(alicePage, "to both of you").waitFor(WAIT);
      await browser.screenshot(linkPage, "08-second-device-live");
    },
    STEP_MS,
  );

  it(
    "a reload unlocks the profile and resumes without duplicates",
    async () => {
      await bobPage.reload();
      await bobPage.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
      await bobPage.getByRole("form", { name: "Welcome back" }).getByLabel("Passphrase").fill(PASS);
      await bobPage.getByRole("button", { name: "Unlock" }).click();
      await online(bobPage);
      await openChat(bobPage, alice);
      await send(alicePage, "after the reload");
      await messageRows(bobPage, "after the reload").waitFor(WAIT);
      for (const text of ["hello bob", "hi alice", "to both of you", "after the reload"]) expect(await messageRows(bobPage, text).count(), text).toBe(1);
      await browser.screenshot(bobPage, "09-bob-after-reload");
    },
    STEP_MS,
  );

  it(
    "a page from another origin works when CORS_ALLOWED_ORIGINS lists it, and is refused when not",
    async () => {
      carol = uniqueCyphrId("carol");
      carolPage = await openPage(browser, "carol", `${listed.origin}/`);
      await register(carolPage, carol);
      await online(carolPage);
      await browser.screenshot(carolPage, "10-other-origin-listed");

      const refused = await openPage(browser, "mallory", `${unlisted.origin}/`);
      const failed = refused.waitForEvent("requestfailed", WAIT);
      await register(refused, uniqueCyphrId("mallory"));
      expect((await failed).url()).toMatch(new RegExp(`^${server.baseUrl}/cyphr\\.identity\\.v1\\.IdentityService/`));
      await refused.locator(".status.error").waitFor(WAIT);
      expect(await refused.locator(".layout").count()).toBe(0);
      await browser.screenshot(refused, "11-other-origin-refused");
    },
    STEP_MS,
  );

  it(
    "the disappearing timer reaches the peer; a group is created, messages flow, a member is added",
    async () => {
      await alicePage.getByLabel("Disappearing").selectOption({ label: "5 minutes" });
      await bobPage.locator(".system", { hasText: "Disappearing messages: 5 minutes" }).waitFor(WAIT);
      expect(await bobPage.getByLabel("Disappearing").inputValue()).toBe("300");

      await alicePage.getByRole("button", { name: "New group" }).click();
      await alicePage.getByLabel("Members (Cyphr IDs, comma-separated)").fill(bob);
      await alicePage.getByRole("button", { name: "Create group" }).click();
      // The group opens (only groups have Members; the direct chat with Bob has the same title).
      await alicePage.getByRole("button", { name: "Members" }).waitFor(WAIT);
      await send(alicePage, "group hello");
      // Bob's list now has the direct chat and the group (a group's avatar is square).
      await bobPage.locator(".chat-list li .avatar.group").waitFor(WAIT);
      await bobPage.locator(".chat-list li", { has: bobPage.locator(".avatar.group") }).click();
      await messageRows(bobPage, "group hello").waitFor(WAIT);

      await alicePage.getByRole("button", { name: "Members" }).click();
      await alicePage.getByLabel("Add a member").fill(carol);
      await alicePage.getByRole("button", { name: "Add", exact: true }).click();
      await alicePage.getByRole("dialog").getByText(carol).waitFor(WAIT);
      await browser.screenshot(alicePage, "12-group-members");
      await alicePage.keyboard.press("Escape");
      await carolPage.locator(".chat-list li .avatar.group").waitFor(WAIT);
      await carolPage.locator(".chat-list li", { has: carolPage.locator(".avatar.group") }).click();
      await send(alicePage, "welcome carol");
      await messageRows(carolPage, "welcome carol").waitFor(WAIT);
      await messageRows(bobPage, "welcome carol").waitFor(WAIT);
      await browser.screenshot(carolPage, "13-group-carol");
    },
    STEP_MS,
  );

  it(
    "works at phone width and from the keyboard",
    async () => {
      await bobPage.setViewportSize({ width: 390, height: 844 });
      await bobPage.getByRole("button", { name: "Back to chats" }).click();
      expect(await bobPage.locator(".main-pane").isVisible()).toBe(false);
      await browser.screenshot(bobPage, "14-phone-chat-list");
      // Keyboard: focus the first chat, move down and back up with the arrows, open it with Enter.
      await bobPage.locator(".chat-list li[data-chat]").first().focus();
      await bobPage.keyboard.press("ArrowDown");
      await bobPage.keyboard.press("ArrowUp");
      await bobPage.keyboard.press("Enter");
      await bobPage.locator(".chat .composer").waitFor(WAIT);
      expect(await bobPage.locator(".sidebar").isVisible()).toBe(false);
      await browser.screenshot(bobPage, "15-phone-chat");
    },
    STEP_MS,
  );

  it(
    "a peer who recovers the account shows as a safety-number change in the open chat",
    async () => {
      const erin = uniqueCyphrId("erin");
      const erinPage = await openPage(browser, "erin", `${server.baseUrl}/`);
      await register(erinPage, erin);
      await online(erinPage);
      // Dave uses the SDK from Node: he starts a chat with Erin, then recovers his account.
      const dave = await registerLiveDevice("web_dave", { baseUrl: server.baseUrl });
      const { chatId } = await dave.mls.startDirectChat(erin);
      await dave.mls.send(chatId, "hi erin");
      await openChat(erinPage, dave.account.cyphrId);
      await messageRows(erinPage, "hi erin").waitFor(WAIT);
      const phrase = newRecoveryPhrase();
      await dave.account.lifecycle().setRecoveryPhrase(phrase);
      const recovered = await recoverAccount({ transport: nodeTransport(server.baseUrl), store: new MemoryStore() }, dave.account.cyphrId, phrase);
      const notice = erinPage.locator(".system.identity", { hasText: `${dave.account.cyphrId}'s safety number changed` });
      await notice.waitFor(WAIT);
      expect(recovered.cyphrId).toBe(dave.account.cyphrId);
      expect(await notice.textContent()).toMatch(/new: [\d ]{60,}$/);
      // Opened again, the chat shows it once, from the stored view, after the message it followed.
      await erinPage.locator("section.chat").evaluate((el) => el.setAttribute("data-before", ""));
      await openChat(erinPage, dave.account.cyphrId);
      await erinPage.locator("section.chat:not([data-before]) .message + .system.identity").waitFor(WAIT);
      expect(await notice.count()).toBe(1);
      await browser.screenshot(erinPage, "16-safety-number-changed");
    },
    STEP_MS,
  );
});
