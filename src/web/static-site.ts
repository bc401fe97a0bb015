/**
 * The built web app (src/web/build.ts) served from memory: the files are read once when the server
 * starts, so only those exact paths exist (no path ever reaches the file system: no traversal) and a
 * request costs a map lookup. `/` is index.html. Hashed assets are cached forever, everything else
 * revalidated (ETag); text is sent gzip-compressed when the browser accepts it. Every answer carries
 * a strict Content-Security-Policy (scripts, styles and connections from this origin only, no inline
 * code, Trusted Types), X-Content-Type-Options, Referrer-Policy and framing protection.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import type http from "node:http";
import type http2 from "node:http2";
import path from "node:path";
import { gzipSync } from "node:zlib";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** A build larger than this is refused rather than held in memory. */
export const MAX_SITE_BYTES = 32 * 1024 * 1024;
/** Files a build may have. */
export const MAX_SITE_FILES = 200;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg|application\/manifest)/;
/** esbuild's `[name]-[hash]` names: cached for a year, never revalidated. */
const HASHED = /^\/assets\/[\w.]+-[A-Z0-9]{8}\.\w+(\.map)?$/;

interface SiteFile {
  body: Buffer;
  /** Sent gzip-compressed to browsers that accept it (compressed on first request, then kept). */
  compressible: boolean;
  gzip?: Buffer;
  headers: Record<string, string>;
}

export interface StaticSiteOptions {
  /** The API's origin when it is not the page's own (a page served elsewhere): written into index.html and the CSP's connect-src. */
  apiOrigin?: string;
}

export interface StaticSite {
  /** Answers GET and HEAD for a file of the build; false for every other request. */
  serve(req: NodeRequest, res: NodeResponse): boolean;
  /** URL paths served. */
  readonly paths: string[];
}

/** Loads the build in `dir`; undefined when there is none (`loaded` then says why). */
export function loadStaticSite(dir: string, options: StaticSiteOptions = {}): { site?: StaticSite; problem?: string } {
  if (!fs.existsSync(path.join(dir, "index.html"))) return { problem: `no web app build in ${dir} (run npm run build:web)` };
  const files = new Map<string, SiteFile>();
  let total = 0;
  for (const rel of listFiles(dir)) {
    if (rel.startsWith(".")) continue; // the build's own records
    const urlPath = `/${rel.split(path.sep).join("/")}`;
    let body = fs.readFileSync(path.join(dir, rel));
    total += body.length;
    if (files.size >= MAX_SITE_FILES || total > MAX_SITE_BYTES)
      return { problem: `the web app in ${dir} is over ${MAX_SITE_FILES} files or ${MAX_SITE_BYTES} bytes` };
    if (urlPath === "/index.html" && options.apiOrigin)
      body = Buffer.from(body.toString("utf8").replace('content="same-origin"', `content="${options.apiOrigin}"`));
    const type = CONTENT_TYPES[path.extname(rel)] ?? "application/octet-stream";
    files.set(urlPath, {
      body,
      compressible: COMPRESSIBLE.test(type) && body.length > 1024 && !rel.endsWith(".map"),
      headers: {
        "content-type": type,
        "cache-control": HASHED.test(urlPath) ? "public, max-age=31536000, immutable" : "no-cache",
        etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
        ...securityHeaders(options.apiOrigin),
      },
    });
  }
  files.set("/", files.get("/index.html")!);
  return {
    site: {
      paths: [...files.keys()],
      serve(req, res) {
        if (req.method !== "GET" && req.method !== "HEAD") return false;
        const file = files.get((req.url ?? "").split("?", 1)[0]!);
        if (!file) return false;
        if (req.headers["if-none-match"] === file.headers.etag) {
          res.writeHead(304, file.headers);
          res.end();
          return true;
        }
        const gzip = file.compressible && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
        if (gzip) file.gzip ??= gzipSync(file.body, { level: 9 });
        const body = gzip ? file.gzip! : file.body;
        const headers: Record<string, string> = { ...file.headers, "content-length": String(body.length) };
        if (file.compressible) headers.vary = "Accept-Encoding";
        if (gzip) headers["content-encoding"] = "gzip";
        res.writeHead(200, headers);
        if (req.method === "HEAD") res.end();
        else res.end(body);
        return true;
      },
    },
  };
}

/** The headers of every file: what the page may load and connect to, and what the browser must not guess or leak. */
export function securityHeaders(apiOrigin?: string): Record<string, string> {
  const connect = apiOrigin ? `'self' ${apiOrigin}` : "'self'";
  return {
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src ${connect}`,
      "manifest-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      "require-trusted-types-for 'script'",
      "trusted-types 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
  };
}

function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)));
}
