import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { uniqueCyphrId } from "./helpers/users.js";

let server: LoggedServer;

beforeAll(async () => {
  server = await startLoggedServer();
});
afterAll(() => server?.close());

const MINUTE = 60_000;

async function scrape(): Promise<string> {
  const res = await fetch(`${server.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`) || (labels === "" && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("The jobs module", () => {
  it("registers the server's purges and retention jobs under fixed names", () => {
    expect(server.app.jobs.names()).toEqual(
      expect.arrayContaining([
        "messaging.expired-messages",
        "identity.login-challenges",
        "devices.expired-links",
        "key-packages.expired",
        "mls.old-welcomes",
        "events.retention",
      ]),
    );
  });

  it("a run moved past a login challenge's expiry deletes it; a run at the present keeps it", async () => {
    const cyphrId = uniqueCyphrId("jobs");
    await identityClient("connect", server.baseUrl).createChallenge({ cyphrId });
    const count = async () =>
      (await queryDatabase<{ n: number }>(server.databaseUrl, "SELECT count(*)::int AS n FROM login_challenges WHERE cyphr_id = $1", [cyphrId]))[0]!.n;
    expect(await server.app.jobs.run("identity.login-challenges")).toMatchObject({ outcome: "ok" });
    expect(await count()).toBe(1);
    const later = new Date(Date.now() + 10 * MINUTE);
    const run = await server.app.jobs.run("identity.login-challenges", later);
    expect(run.outcome === "ok" && run.rows).toBeGreaterThanOrEqual(1);
    expect(await count()).toBe(0);
  });

  it("a job never overlaps itself: a run asked for while the previous one goes on is skipped and counted", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.app.jobs.register({ name: "test.slow", intervalMs: 3_600_000, run: () => gate.then(() => 3) });
    const first = server.app.jobs.run("test.slow");
    expect(await server.app.jobs.run("test.slow")).toEqual({ outcome: "skipped" });
    release();
    expect(await first).toEqual({ outcome: "ok", rows: 3 });
    expect(await server.app.jobs.run("test.slow")).toMatchObject({ outcome: "ok" });
    const text = await scrape();
    expect(metricValue(text, "cyphr_job_runs_total", 'job="test.slow",outcome="skipped"')).toBe(1);
    expect(metricValue(text, "cyphr_job_runs_total", 'job="test.slow",outcome="ok"')).toBe(2);
    expect(metricValue(text, "cyphr_job_rows_total", 'job="test.slow"')).toBe(6);
    expect(metricValue(text, "cyphr_job_duration_seconds_count", 'job="test.slow"')).toBe(2);
  });

  it("a failing job is logged with its name and message only, counted, and runs again next time", async () => {
    let calls = 0;
    server.app.jobs.register({
      name: "test.failing",
      intervalMs: 3_600_000,
      run: async () => {
        calls++;
        throw new Error("disk on fire");
      },
    });
    const run = await server.app.jobs.run("test.failing");
    expect(run.outcome).toBe("failed");
    await server.app.jobs.run("test.failing");
    expect(calls).toBe(2);
    const lines = server.logs.filter((l) => l.msg === "job failed" && l.job === "test.failing");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ job: "test.failing", err: { message: "disk on fire" } });
    expect(metricValue(await scrape(), "cyphr_job_runs_total", 'job="test.failing",outcome="failed"')).toBe(2);
  });

  it("the same name cannot be registered twice", () => {
    expect(() => server.app.jobs.register({ name: "events.retention", intervalMs: 1000, run: async () => 0 })).toThrow(/already registered/);
  });
});
