/**
 * Debian's Chromium (/usr/bin/chromium, `apt-get install chromium`) driven by playwright-core:
 * never a downloaded browser. Each launch gets a fresh --user-data-dir. When no Chromium is
 * installed, `chromiumPath()` is undefined and the browser suites skip with a loud message.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p): p is string => !!p);

/** The flags that work headless as root here (issue 13). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where screenshots go (git-ignored); CI keeps the folder as its artifacts. */
export const ARTIFACTS_DIR = path.resolve("test-artifacts", "web");

export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/** Says loudly that the browser suite did not run, and why. */
export function warnNoChromium(): void {
  const line = "!".repeat(78);
  console.warn(
    `\n${line}\n!! BROWSER TESTS SKIPPED: no Chromium at ${CANDIDATES.join(" or ")}.\n!! Install Debian's: apt-get install -y chromium (see docs/web.md).\n${line}\n`,
  );
}

export interface Browser {
  /** A new browser profile (its own user-data-dir, so its own IndexedDB). */
  context(name: string): Promise<BrowserContext>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/** One persistent context per call (each a fresh --user-data-dir), all closed together. */
export async function launchBrowser(suite: string): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("no Chromium installed");
  const dirs: string[] = [];
  const contexts: BrowserContext[] = [];
  const shots = path.join(ARTIFACTS_DIR, suite);
  await fsp.mkdir(shots, { recursive: true });
  return {
    async context(name) {
      const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `cyphr-chromium-${name}-`));
      dirs.push(dir);
      const context = await chromium.launchPersistentContext(dir, {
        executablePath,
        args: CHROMIUM_FLAGS,
        headless: true,
        viewport: { width: 1100, height: 760 },
      });
      contexts.push(context);
      return context;
    },
    async screenshot(page, name) {
      const file = path.join(shots, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      return file;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
    },
  };
}
