import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import { ACCOUNT_PUBLIC_METHODS } from "./account/service.js";
import type { App } from "./app.js";
import { DEVICES_PUBLIC_METHODS } from "./devices/service.js";
import { RealtimeService } from "./gen/cyphr/realtime/v1/realtime_pb.js";
import { IDENTITY_PUBLIC_METHODS } from "./identity/service.js";
import { authenticate as authenticateCaller } from "./identity/sessions.js";
import { METRICS_PATH, serveMetrics } from "./metrics/endpoint.js";
import { sharedRateLimits } from "./privacy/limits/interceptor.js";
import { realtimeStreamClaim } from "./realtime/h2/claim.js";
import { PUBLIC_SERVICES, routes } from "./routes.js";
import { createCallHandler } from "./rpc/call-handler.js";
import { authenticate, callerOf, observe } from "./rpc/interceptors.js";
import { trackResponse, transportContextValues } from "./rpc/stream-reset.js";
import { unaryCallClaim } from "./rpc/unary/claim.js";
import { UnauthenticatedError } from "./shared/errors.js";
import { corsPolicy } from "./transport/cors.js";
import { RequestBudget } from "./transport/request-budget.js";
import type { StreamClaim } from "./transport/stream-claims.js";
import { createListener, transportLimits } from "./transport.js";
import { loadStaticSite } from "./web/static-site.js";

/** Largest request message accepted, in bytes (protocol framing included). */
const READ_MAX_BYTES = 4 * 1024 * 1024;

export interface CyphrServer {
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting, ends open streams through the handlers' shutdown signal, lets
   * in-flight calls finish for up to `graceMs`, then closes every connection.
   */
  shutdown(graceMs: number): Promise<void>;
  /** Request bytes buffered now, per connection and in all (docs/limits.md). */
  readonly requestBudget: RequestBudget;
}

/** Builds the HTTP/2 server (h2c, or TLS 1.3 when configured) without listening. */
export function createServer(app: App): CyphrServer {
  const shutdownController = new AbortController();
  // Every in-flight call listens on this signal; thousands of streams are normal.
  setMaxListeners(0, shutdownController.signal);
  const publicMethods = new Set([...PUBLIC_SERVICES, ...IDENTITY_PUBLIC_METHODS, ...DEVICES_PUBLIC_METHODS, ...ACCOUNT_PUBLIC_METHODS]);
  const verify = (token: string) => authenticateCaller(app.identity, token);
  // The web app at `/` (src/web/): the files of its build, and nothing else of the file system.
  const { site, problem } = loadStaticSite(app.config.webDir);
  if (problem) app.log.warn({ webDir: app.config.webDir }, `web app not served: ${problem}`);
  const interceptors = [
    observe(app.log),
    authenticate(publicMethods, (token) => verify(token)),
    sharedRateLimits(app.rateLimiter, app.config.rateLimits, app.config.deviceLinkSource),
  ];
  const requestBudget = new RequestBudget({ perConnectionBytes: app.config.requestBufferBytesPerConnection, totalBytes: app.config.requestBufferBytesTotal });
  const handler = createCallHandler({
    routes: routes(app),
    log: app.log,
    interceptors,
    shutdownSignal: shutdownController.signal,
    readMaxBytes: READ_MAX_BYTES,
    requestBudget,
    contextValues: transportContextValues,
    fallback: (req, res) => {
      const path = req.url?.split("?")[0];
      if (req.method === "GET" && path === "/healthz") return sendJson(res, 200, { status: "ok" });
      // With METRICS_PORT set, metrics are only on that port (e.g. one the public load balancer does not route).
      if (req.method === "GET" && path === METRICS_PATH && app.metricsPort === undefined) return serveMetrics(res);
      if (req.method === "GET" && path === "/readyz") {
        if (app.health.isDraining) return sendJson(res, 503, { status: "shutting down" });
        void app.checkReady().then((ready) => sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready" }));
        return;
      }
      if (site?.serve(req, res)) return;
      sendJson(res, 404, { error: "not found" });
    },
  });

  // HTTP/2 calls keep their session open; HTTP/1.1 calls are only visible as unfinished responses.
  let inFlight = 0;
  const cors = corsPolicy(app.config.corsAllowedOrigins);
  const counted: Parameters<typeof createListener>[2] = (req, res) => {
    inFlight++;
    // While draining, HTTP/1.1 clients are told not to reuse the connection.
    if (app.health.isDraining && req.httpVersionMajor === 1) res.setHeader("connection", "close");
    res.once("close", () => inFlight--);
    trackResponse(req, res);
    if (cors.handle(req, res)) return;
    handler(req, res);
  };
  // Connect and Subscribe (src/realtime/h2/) and binary unary calls (src/rpc/unary/) over HTTP/2 skip the per-call pipeline; everything else goes through `handler`.
  const unaryClaim = unaryCallClaim(handler.unaryMethods, {
    interceptors,
    log: app.log,
    shutdownSignal: shutdownController.signal,
    readMaxBytes: READ_MAX_BYTES,
    requestBudget,
  });
  const streamClaim =
    app.config.streamEngine === "h2"
      ? realtimeStreamClaim({
          rt: app.realtime,
          log: app.log,
          authenticate: async (header) =>
            (await callerOf(publicMethods, verify, RealtimeService.typeName, "Connect", header ?? null)) ??
            Promise.reject(new UnauthenticatedError("missing authorization")),
          shutdownSignal: shutdownController.signal,
          readMaxBytes: READ_MAX_BYTES,
          requestBudget,
        })
      : undefined;
  // Calls from a listed origin take the request handler, which adds the CORS headers.
  const claim: StreamClaim | undefined =
    streamClaim && ((stream, headers) => !cors.allows(headers.origin) && (streamClaim(stream, headers) || unaryClaim(stream, headers)));
  const { server, sessions, sockets, close } = createListener(app.config.tls, transportLimits(app.config), counted, claim);

  return {
    requestBudget,
    listen(port, host = app.config.host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    async shutdown(graceMs) {
      // Health watchers and load balancers hear NOT_SERVING before streams end.
      app.health.drain();
      await new Promise((resolve) => setImmediate(resolve));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      shutdownController.abort();
      // GOAWAY: no new streams on existing HTTP/2 connections; open ones may finish.
      for (const session of sessions) session.close();
      const deadline = Date.now() + graceMs;
      while ((sessions.size > 0 || inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
      close();
    },
  };
}

interface JsonResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

function sendJson(res: JsonResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
