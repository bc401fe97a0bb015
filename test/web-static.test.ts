import fs from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWebApp } from "../src/web/build.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The web app on the server's one port: the build's files at `/` with their content types,
 * caching and security headers; API paths as before; nothing else of the file system.
 */

let webDir: string;
let server: TestServer;
beforeAll(async () => {
  webDir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-web-")), "web");
  await buildWebApp(webDir);
  server = await startTestServer({ env: { WEB_DIR: webDir } });
});
afterAll(() => server.close());

/** A raw HTTP/1.1 GET: the path goes on the wire exactly as written (fetch would normalize "..") */
function rawGet(rawPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, path: rawPath, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function assets(): Promise<{ script: string; style: string }> {
  const html = await (await fetch(`${server.baseUrl}/`)).text();
  return { script: /src="(\/assets\/app-\w+\.js)"/.exec(html)![1]!, style: /href="(\/assets\/styles-\w+\.css)"/.exec(html)![1]! };
}

describe("the web app at /", () => {
  it("serves index.html, never cached, with a strict CSP, nosniff, no referrer and no framing", async () => {
    const res = await fetch(`${server.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(await res.text()).toMatch(/<script type="module" src="\/assets\/app-\w+\.js"><\/script>/);
    expect((await fetch(`${server.baseUrl}/index.html`)).status).toBe(200);
  });

  it("serves the hashed script and stylesheet with their types, cached as immutable, gzip when accepted", async () => {
    const { script, style } = await assets();
    const js = await fetch(`${server.baseUrl}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-encoding")).toBe("gzip"); // fetch asks for it; the body arrives decoded
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await fetch(`${server.baseUrl}${style}`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("x-content-type-options")).toBe("nosniff");
    const icon = await fetch(`${server.baseUrl}/icon.svg`);
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
    expect(icon.headers.get("cache-control")).toBe("no-cache");
  });

  it("answers HEAD without a body and a matching If-None-Match with 304", async () => {
    const head = await fetch(`${server.baseUrl}/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    const etag = head.headers.get("etag")!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await fetch(`${server.baseUrl}/`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });

  it("serves the same files over HTTP/2", async () => {
    const session = http2.connect(server.baseUrl);
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const req = session.request({ ":path": "/", ":method": "GET" });
      req.on("response", resolve);
      req.on("error", reject);
      req.resume();
      req.end();
    });
    session.close();
    expect(headers[":status"]).toBe(200);
    expect(headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(headers["content-security-policy"]).toContain("default-src 'none'");
  });

  it("answers 404 for unknown paths and every path-traversal attempt", async () => {
    for (const p of [
      "/nope.js",
      "/assets/",
      "/assets/app.js",
      "/../package.json",
      "/assets/../../package.json",
      "/%2e%2e/package.json",
      "//etc/passwd",
      "/.build-inputs.json",
      "/index.html/",
      "/src/web/build.ts",
    ]) {
      const res = await rawGet(p);
      expect(res.status, p).toBe(404);
      expect(JSON.parse(res.body), p).toEqual({ error: "not found" });
    }
    const post = await fetch(`${server.baseUrl}/`, { method: "POST", body: "x" });
    expect(post.status).toBe(404);
  });

  it("leaves the API paths as they are", async () => {
    expect(await (await fetch(`${server.baseUrl}/healthz`)).json()).toEqual({ status: "ok" });
    const res = await fetch(`${server.baseUrl}/cyphr.identity.v1.IdentityService/CheckAvailability`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ cyphrId: "someone_new" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBeNull();
  });
});

describe("the build", () => {
  it("with --if-changed rebuilds only when an input changed", async () => {
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-web-")), "web");
    expect((await buildWebApp(dir)).built).toBe(true);
    expect((await buildWebApp(dir, { ifChanged: true })).built).toBe(false);
    // What the last build read is recorded by content hash; a changed input means a rebuild.
    const stampFile = path.join(dir, ".build-inputs.json");
    const stamp = JSON.parse(await fs.readFile(stampFile, "utf8")) as Record<string, string>;
    expect(Object.keys(stamp)).toEqual(expect.arrayContaining(["src/web/app/main.ts", "src/web/app/index.html"]));
    await fs.writeFile(stampFile, JSON.stringify({ ...stamp, "src/web/app/main.ts": "0".repeat(64) }));
    expect((await buildWebApp(dir, { ifChanged: true })).built).toBe(true);
  });

  it("without a build the server starts and `/` is a 404", async () => {
    const bare = await startTestServer({ env: { WEB_DIR: path.join(os.tmpdir(), "cyphr-no-such-web-dir") } });
    try {
      expect((await fetch(`${bare.baseUrl}/`)).status).toBe(404);
      expect((await fetch(`${bare.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await bare.close();
    }
  });
});
