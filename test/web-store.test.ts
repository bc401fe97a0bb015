import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import * as esbuild from "esbuild";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, chromiumPath, launchBrowser, warnNoChromium } from "./helpers/browser.js";

/**
 * The SDK's IndexedDB store (src/sdk/web/) in a real Chromium: values come back only with the
 * passphrase, IndexedDB holds no entry name or value in the clear, and a changed record or stored
 * setting is refused as data_loss.
 */

const hasChromium = chromiumPath() !== undefined;
if (!hasChromium) warnNoChromium();

/** test/web-store.page.ts bundled for the page, as `window.StorePage`. */
async function bundle(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [path.join(import.meta.dirname, "web-store.page.ts")],
    bundle: true,
    format: "iife",
    globalName: "StorePage",
    platform: "browser",
    write: false,
  });
  return result.outputFiles[0]!.text;
}

const call = <T>(page: Page, name: string) => page.evaluate(`StorePage.${name}()`) as Promise<T>;

describe.skipIf(!hasChromium)("IndexedDbStore in Chromium", () => {
  let server: http.Server;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const script = await bundle();
    // IndexedDB needs a real origin: a page with the bundle, served on port 0.
    server = http.createServer((req, res) => {
      if (req.url === "/store.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script src="/store.js"></script>');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    browser = await launchBrowser("store");
    const context = await browser.context("store");
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction("window.StorePage !== undefined");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it("keeps values across a reopen with the passphrase, and lists the profile by its label", async () => {
    expect(await call(page, "roundTrip")).toEqual({ value: [1, 2, 3], keys: ["mls/group/x"], profiles: [{ profile: "p1", label: "alice_1" }] });
  });

  it("refuses a wrong passphrase as unauthenticated", async () => {
    expect(await call(page, "wrongPassphrase")).toBe("unauthenticated: Wrong passphrase for this profile: type it again.");
  });

  it("stores no entry name and no value in the clear", async () => {
    const raw = await call<{ keys: string[]; text: string; sizes: number[] }>(page, "rawContents");
    expect(raw.keys).toHaveLength(2);
    for (const key of raw.keys) expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(raw.text).not.toContain("account/keys");
    expect(raw.text).not.toContain("mls/group");
    // Each sealed field is nonce (24) + ciphertext + tag (16): never the 1- or 3-byte value itself.
    for (const size of raw.sizes) expect(size).toBeGreaterThanOrEqual(24 + 16 + 1);
  });

  it("refuses a record moved to another entry, and stored settings that were changed, as data_loss", async () => {
    expect(await call(page, "tamper")).toEqual({ reads: ["data_loss", "read"], settings: "data_loss" });
  });
});
