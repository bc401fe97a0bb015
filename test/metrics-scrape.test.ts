import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrivacyService } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { clientFor, identityClient, type Protocol } from "./helpers/clients.js";
import { participants, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, eventually, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** One sample of `name` with exactly these labels (prom-client's order), or 0 when absent. */
function sample(text: string, name: string, labels = ""): number {
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server?.close());

describe("GET /metrics on the API port", () => {
  it("counts and times calls by method and code, streams, fan-out, send batches, pool and jobs; no user ids", async () => {
    const before = await scrape(server.baseUrl);
    const [alice, bob] = await participants(server.baseUrl, 2);
    const stream = subscribe(server.baseUrl, bob.accessToken);
    await stream.caughtUp();
    await sendTo(alice, bob);
    await stream.take("messageNew");
    await expectRpcError(identityClient("grpc", server.baseUrl).login({ cyphrId: "nobody_here", deviceId: 1 }), Code.InvalidArgument, /./);
    await server.app.jobs.run("events.retention");
    stream.close();
    await stream.ended;

    const delta = (text: string, name: string, labels = "") => sample(text, name, labels) - sample(before, name, labels);
    let after = "";
    await eventually(
      async () => {
        after = await scrape(server.baseUrl);
        return (
          delta(after, "cyphr_stream_closes_total") >= 1 &&
          delta(after, "cyphr_rpc_calls_total", 'method="cyphr.realtime.v1.RealtimeService/Subscribe",code="Canceled"') >= 1
        );
      },
      5000,
      "the stream's end in the metrics",
    );
    expect(delta(after, "cyphr_rpc_calls_total", 'method="cyphr.identity.v1.IdentityService/Register",code="OK"')).toBe(2);
    expect(delta(after, "cyphr_rpc_duration_seconds_count", 'method="cyphr.identity.v1.IdentityService/Register",code="OK"')).toBe(2);
    expect(delta(after, "cyphr_rpc_calls_total", 'method="cyphr.messaging.v1.MessagingService/SendMessage",code="OK"')).toBe(1);
    expect(delta(after, "cyphr_rpc_calls_total", 'method="cyphr.identity.v1.IdentityService/Login",code="InvalidArgument"')).toBe(1);
    expect(delta(after, "cyphr_stream_opens_total")).toBe(1);
    expect(sample(after, "cyphr_streams_live")).toBe(0);
    expect(delta(after, "cyphr_fanout_lag_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(delta(after, "cyphr_send_batch_size_count")).toBeGreaterThanOrEqual(1);
    expect(delta(after, "cyphr_job_runs_total", 'job="events.retention",outcome="ok"')).toBe(1);
    expect(after).toMatch(/^cyphr_db_pool_connections\{state="in_use"\} \d+$/m);
    expect(after).toMatch(/^cyphr_db_pool_connections\{state="waiting"\} \d+$/m);
    expect(after).toMatch(/^cyphr_notify_backlog \d+$/m);
    expect(after).toMatch(/^cyphr_notify_queue_usage_ratio [\d.e-]+$/m);
    expect(after).toMatch(/^cyphr_process_resident_memory_bytes \d+/m);
    for (const secret of [alice.userId, bob.userId, alice.cyphrId, bob.cyphrId, alice.sessionId]) expect(after).not.toContain(secret);
  });
});

describe("codes of failed unary calls", () => {
  const failures = [
    {
      what: "NOT_FOUND (an unknown Cyphr ID)",
      method: "cyphr.identity.v1.IdentityService/GetProfile",
      code: "NotFound",
      call: (protocol: Protocol, httpVersion: "2" | "1.1") =>
        expectRpcError(identityClient(protocol, server.baseUrl, { httpVersion }).getProfile({ cyphrId: "nobody_here" }), Code.NotFound, /nobody_here/),
    },
    {
      // Refused by the authentication interceptor at once: the answer is out before the stream's end callback runs.
      what: "UNAUTHENTICATED (a malformed token)",
      method: "cyphr.privacy.v1.PrivacyService/GetPrivacySettings",
      code: "Unauthenticated",
      call: (protocol: Protocol, httpVersion: "2" | "1.1") =>
        expectRpcError(
          clientFor(PrivacyService, protocol, server.baseUrl, { token: "not-a-token", httpVersion }).getPrivacySettings({}),
          Code.Unauthenticated,
          /authorization/,
        ),
    },
  ];
  const cases = failures.flatMap((failure) => [
    { ...failure, protocol: "connect" as const, httpVersion: "2" as const },
    { ...failure, protocol: "connect" as const, httpVersion: "1.1" as const },
    { ...failure, protocol: "grpc-web" as const, httpVersion: "2" as const },
  ]);
  it.each(cases)(
    "$protocol over HTTP/$httpVersion failing with $what is counted under its code, never Canceled",
    async ({ method, code, call, protocol, httpVersion }) => {
      const calls = (text: string, label: string) => sample(text, "cyphr_rpc_calls_total", `method="${method}",code="${label}"`);
      const before = await scrape(server.baseUrl);
      for (let i = 0; i < 5; i++) await call(protocol, httpVersion);
      let after = "";
      await eventually(
        async () => {
          after = await scrape(server.baseUrl);
          return calls(after, code) + calls(after, "Canceled") - calls(before, code) - calls(before, "Canceled") >= 5;
        },
        5000,
        "the calls in the metrics",
      );
      expect(calls(after, "Canceled") - calls(before, "Canceled")).toBe(0);
      expect(calls(after, code) - calls(before, code)).toBe(5);
      expect(
        sample(after, "cyphr_rpc_duration_seconds_count", `method="${method}",code="${code}"`) -
          sample(before, "cyphr_rpc_duration_seconds_count", `method="${method}",code="${code}"`),
      ).toBe(5);
    },
  );
});

describe("METRICS_PORT", () => {
  it("moves /metrics to its own listener; the API port no longer serves it", async () => {
    const separate = await startTestServer({ env: { METRICS_PORT: "0" } });
    try {
      expect(separate.app.metricsPort).toBeGreaterThan(0);
      expect((await fetch(`${separate.baseUrl}/metrics`)).status).toBe(404);
      const text = await scrape(`http://127.0.0.1:${separate.app.metricsPort}`);
      expect(text).toContain("cyphr_rpc_calls_total");
      expect((await fetch(`http://127.0.0.1:${separate.app.metricsPort}/other`)).status).toBe(404);
    } finally {
      await separate.close();
    }
  });
});
