import http from "node:http";
import type { AddressInfo } from "node:net";
import { registry } from "./registry.js";

/** The path Prometheus scrapes. */
export const METRICS_PATH = "/metrics";

interface MetricsResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/** Answers a scrape with the text exposition format (or 500 when a collector failed, without details). */
export function serveMetrics(res: MetricsResponse): void {
  registry.metrics().then(
    (body) => {
      res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
      res.end(body);
    },
    () => {
      res.writeHead(500, { "content-type": "text/plain", "cache-control": "no-store" });
      res.end("metrics collection failed\n");
    },
  );
}

/** A separate plain-HTTP listener answering only GET /metrics (METRICS_PORT). */
export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

export async function listenForMetrics(port: number, host: string): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url?.split("?")[0] === METRICS_PATH) return serveMetrics(res);
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
