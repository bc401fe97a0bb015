import http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVED_FILES } from "../src/app.js";
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS } from "../src/transport/cors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * CORS over real HTTP: CORS_ALLOWED_ORIGINS lets listed pages call the API from another origin
 * (preflights answered on every RPC path, over HTTP/1.1 and HTTP/2, the status headers exposed);
 * unlisted origins, and every origin when the setting is unset, get no CORS headers.
 */

const PAGE = "http://app.cyphr.test:5173";
const OTHER_PAGE = "https://cyphr.test";
const STRANGER = "https://attacker.test";
const CHECK = "/cyphr.identity.v1.IdentityService/CheckAvailability";

/** Every RPC path the server serves, from the files it registers. */
const RPC_PATHS = SERVED_FILES.flatMap((f) => f.services.flatMap((s) => s.methods.map((m) => `/${s.typeName}/${m.name}`)));

const preflightHeaders = (origin: string) => ({
  origin,
  "access-control-request-method": "POST",
  "access-control-request-headers": "authorization,content-type,x-grpc-web,x-user-agent",
});

function corsHeadersOf(headers: Headers): string[] {
  return [...headers.keys()].filter((k) => k.startsWith("access-control-"));
}

/** A gRPC-Web call (the browser's protocol) to CheckAvailability with an empty request. */
function grpcWebCall(baseUrl: string, origin: string): Promise<Response> {
  return fetch(`${baseUrl}${CHECK}`, {
    method: "POST",
    headers: { origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: new Uint8Array([0, 0, 0, 0, 0]),
  });
}

/** One HTTP/2 request; resolves with the response headers. */
function h2Request(baseUrl: string, headers: http2.OutgoingHttpHeaders, body?: Uint8Array): Promise<http2.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const req = session.request(headers);
    req.on("response", (h) => {
      resolve(h);
      req.close();
      session.close();
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("with CORS_ALLOWED_ORIGINS set", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { CORS_ALLOWED_ORIGINS: `${PAGE}, ${OTHER_PAGE}` } });
  });
  afterAll(() => server.close());

  it("answers the preflight on every RPC path over HTTP/1.1 with connect-es's header lists and the bearer token", async () => {
    expect(RPC_PATHS.length).toBeGreaterThan(40);
    for (const path of RPC_PATHS) {
      const res = await fetch(`${server.baseUrl}${path}`, { method: "OPTIONS", headers: preflightHeaders(PAGE) });
      expect(res.status, path).toBe(204);
      expect(res.headers.get("access-control-allow-origin"), path).toBe(PAGE);
    }
    const res = await fetch(`${server.baseUrl}${CHECK}`, { method: "OPTIONS", headers: preflightHeaders(OTHER_PAGE) });
    expect(res.headers.get("access-control-allow-origin")).toBe(OTHER_PAGE);
    expect(res.headers.get("vary")).toBe("Origin");
    const allowed = res.headers.get("access-control-allow-headers")!.split(", ");
    for (const h of [...connectCors.allowedHeaders.map((x) => x.toLowerCase()), "authorization"]) expect(allowed).toContain(h);
    expect(res.headers.get("access-control-allow-methods")).toBe(connectCors.allowedMethods.join(", "));
    expect(res.headers.get("access-control-max-age")).toBe("7200");
  });

  it("exposes grpc-status, grpc-message, grpc-status-details-bin and the Connect headers on the call itself", async () => {
    const res = await grpcWebCall(server.baseUrl, PAGE);
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(PAGE);
    const exposed = res.headers.get("access-control-expose-headers")!.split(", ");
    for (const h of connectCors.exposedHeaders) expect(exposed).toContain(h.toLowerCase());
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "retry-after-ms"]));
    expect(exposed).toEqual([...CORS_EXPOSED_HEADERS]);
  });

  it("answers preflights and decorates calls over HTTP/2 too, fast paths included", async () => {
    const pre = await h2Request(server.baseUrl, { ":method": "OPTIONS", ":path": CHECK, ...preflightHeaders(PAGE) });
    expect(pre[":status"]).toBe(204);
    expect(pre["access-control-allow-origin"]).toBe(PAGE);
    expect(String(pre["access-control-allow-headers"]).split(", ")).toEqual([...CORS_ALLOWED_HEADERS]);
    // A binary gRPC-Web unary call: without an Origin the unary fast path would serve it.
    const call = await h2Request(
      server.baseUrl,
      { ":method": "POST", ":path": CHECK, origin: PAGE, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      new Uint8Array([0, 0, 0, 0, 0]),
    );
    expect(call[":status"]).toBe(200);
    expect(call["access-control-allow-origin"]).toBe(PAGE);
    expect(String(call["access-control-expose-headers"])).toContain("grpc-status");
  });

  it("gives an origin that is not listed no CORS headers: its preflight is refused, its call undecorated", async () => {
    for (const origin of [STRANGER, "null", `${PAGE}.attacker.test`, "http://app.cyphr.test:5174"]) {
      const pre = await fetch(`${server.baseUrl}${CHECK}`, { method: "OPTIONS", headers: preflightHeaders(origin) });
      expect(pre.status, origin).toBe(403);
      expect(corsHeadersOf(pre.headers), origin).toEqual([]);
      expect(await pre.text()).toMatch(/CORS_ALLOWED_ORIGINS/);
      const call = await grpcWebCall(server.baseUrl, origin);
      expect(call.status).toBe(200);
      expect(corsHeadersOf(call.headers), origin).toEqual([]);
    }
    const h2pre = await h2Request(server.baseUrl, { ":method": "OPTIONS", ":path": CHECK, ...preflightHeaders(STRANGER) });
    expect(h2pre[":status"]).toBe(403);
    expect(Object.keys(h2pre).filter((k) => k.startsWith("access-control-"))).toEqual([]);
  });
});

describe("with CORS_ALLOWED_ORIGINS unset (same-origin only)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it("refuses every preflight and adds no CORS header to any response", async () => {
    const pre = await fetch(`${server.baseUrl}${CHECK}`, { method: "OPTIONS", headers: preflightHeaders(PAGE) });
    expect(pre.status).toBe(403);
    expect(corsHeadersOf(pre.headers)).toEqual([]);
    const call = await grpcWebCall(server.baseUrl, PAGE);
    expect(call.status).toBe(200);
    expect(corsHeadersOf(call.headers)).toEqual([]);
    expect(call.headers.get("vary")).toBeNull();
  });
});

describe("CORS_ALLOWED_ORIGINS parsing", () => {
  it("accepts exact origins and names every entry that is not one", async () => {
    const { loadConfig, ConfigError } = await import("../src/config.js");
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: "https://a.example, http://localhost:5173" }).corsAllowedOrigins).toEqual([
      "https://a.example",
      "http://localhost:5173",
    ]);
    expect(loadConfig({}).corsAllowedOrigins).toEqual([]);
    let problems: string[] = [];
    try {
      loadConfig({ CORS_ALLOWED_ORIGINS: "*, https://a.example/, ftp://b.example, https://ok.example" });
    } catch (e) {
      if (e instanceof ConfigError) problems = e.problems;
    }
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/CORS_ALLOWED_ORIGINS entries must be origins .* got "\*"/);
    expect(problems[1]).toMatch(/got "https:\/\/a\.example\/"/);
    expect(problems[2]).toMatch(/got "ftp:\/\/b\.example"/);
  });
});
