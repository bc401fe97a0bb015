/**
 * Serves the built web app from its own port, for a page on another origin than the API (a CDN-like
 * setup, or a development server): index.html names the API origin, the CSP lets the page connect
 * there, and the API server must list this server's origin in CORS_ALLOWED_ORIGINS.
 *
 *   tsx src/web/static-server.ts --api https://chat.example.com [--port 5173] [--host 127.0.0.1] [--dir dist/web]
 */
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_WEB_DIR } from "../config.js";
import { loadStaticSite } from "./static-site.js";

/** The request listener: files of the build, 404 for everything else. */
export function staticSiteListener(dir: string, apiOrigin: string): http.RequestListener {
  const { site, problem } = loadStaticSite(dir, { apiOrigin: new URL(apiOrigin).origin });
  if (!site) throw new Error(problem);
  return (req, res) => {
    if (site.serve(req, res)) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found\n");
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const api = arg("--api");
  if (!api) {
    console.error("usage: tsx src/web/static-server.ts --api <API origin> [--port 5173] [--host 127.0.0.1] [--dir dist/web]");
    process.exit(2);
  }
  const port = Number(arg("--port") ?? 5173);
  const host = arg("--host") ?? "127.0.0.1";
  const server = http.createServer(staticSiteListener(path.resolve(arg("--dir") ?? DEFAULT_WEB_DIR), api));
  server.listen(port, host, () =>
    console.log(`web app on http://${host}:${port}/ using the API at ${api} (list this origin in the API's CORS_ALLOWED_ORIGINS)`),
  );
}
