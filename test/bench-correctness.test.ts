import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameEvent } from "../src/bench/frame-codec.js";
import { FrameStream } from "../src/bench/frame-stream.js";
import { H2Connection } from "../src/bench/h2-client.js";
import { type BenchResults, findFailures } from "../src/bench/report.js";
import { connection } from "../src/bench/rpc.js";
import { DeliveryTracker } from "../src/bench/tracker.js";
import { registerUsers, runTag } from "../src/bench/users.js";
import { type PairSpec, PairTraffic, type SendMode } from "../src/bench/worker-pairs.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** The benchmark's correctness check: lost or duplicated messages must fail the run. */

describe("DeliveryTracker", () => {
  it("counts an accepted message that never arrived as lost, and a second arrival on a stream as a duplicate", () => {
    const tracker = new DeliveryTracker();
    for (const id of ["a", "b", "c"]) {
      tracker.onSent(id);
      tracker.onAccepted(id);
    }
    expect(tracker.onReceived("a")).toBe(true);
    expect(tracker.onReceived("b")).toBe(true);
    expect(tracker.onReceived("b")).toBe(false);
    expect(tracker.onReceived("not-ours")).toBe(false);
    expect(tracker.summary()).toMatchObject({ sent: 3, accepted: 3, delivered: 2, lost: 1, duplicated: 1 });
  });

  it("counts a message delivered although its send failed as delivered-unacknowledged, not lost", () => {
    const tracker = new DeliveryTracker();
    tracker.onSent("x");
    tracker.onError("UNAVAILABLE", "connection reset");
    tracker.onReceived("x");
    expect(tracker.summary()).toMatchObject({ lost: 0, deliveredUnacknowledged: 1, errors: 1, errorKinds: { UNAVAILABLE: 1 } });
  });
});

describe("findFailures", () => {
  const delivery = (lost: number, duplicated: number) => ({ ...new DeliveryTracker().summary(), lost, duplicated });
  const results = (lost: number, duplicated: number) =>
    ({
      throughput: [{ mode: "frames", delivery: delivery(lost, duplicated), streamErrors: [] }],
      latency: [],
      streams: undefined,
      errors: [],
    }) as unknown as BenchResults;

  it("reports nothing for a clean run", () => {
    expect(findFailures(results(0, 0))).toEqual([]);
  });

  it("names lost and duplicated messages (main.ts exits 1 on any failure)", () => {
    expect(findFailures(results(2, 0))).toEqual(["throughput/frames: 2 accepted messages never arrived"]);
    expect(findFailures(results(0, 3))).toEqual(["throughput/frames: 3 messages arrived more than once on one stream"]);
  });
});

describe("the load generator's raw HTTP/2 client, against a real server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const pairs = async (count: number): Promise<PairSpec[]> => {
    const users = await registerUsers(connection(server.baseUrl), `t${runTag()}`, count * 2, 4);
    return Array.from({ length: count }, (_, i) => ({
      sender: users[2 * i]!,
      recipient: users[2 * i + 1]!,
      senderUrl: server.baseUrl,
      recipientUrl: server.baseUrl,
    }));
  };

  for (const mode of ["frames", "unary"] as SendMode[]) {
    it(`counts every ${mode} send accepted and delivered exactly once by its id`, async () => {
      const traffic = new PairTraffic(await pairs(2), { mode, payloadBytes: 64, kemFirst: false });
      await traffic.open();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => traffic.send(i % 2)));
      await traffic.drain(10_000);
      traffic.close();
      expect(results.every(Boolean)).toBe(true);
      expect(traffic.tracker.summary()).toMatchObject({ sent: 20, accepted: 20, delivered: 20, lost: 0, duplicated: 0, deliveredUnacknowledged: 0, errors: 0 });
      expect(traffic.streamErrors).toEqual([]);
    });
  }

  it("detects duplicates: a second stream replaying the recipient's history counts each message again", async () => {
    const [pair] = await pairs(1);
    const traffic = new PairTraffic([pair!], { mode: "unary", payloadBytes: 64, kemFirst: false });
    await traffic.open();
    for (let i = 0; i < 5; i++) expect(await traffic.send(0)).toBe(true);
    await traffic.drain(10_000);
    const conn = new H2Connection(server.baseUrl);
    const replay = new FrameStream(
      conn,
      pair!.recipient.accessToken,
      (f) => {
        if (f.event === FrameEvent.messageNew) traffic.tracker.onReceived(f.clientMessageId);
      },
      0n,
    );
    await replay.caughtUp;
    replay.close();
    conn.close();
    traffic.close();
    expect(traffic.tracker.summary()).toMatchObject({ accepted: 5, delivered: 5, lost: 0, duplicated: 5 });
  });

  it("detects loss: a message accepted while the recipient's stream is gone never counts as delivered", async () => {
    const [pair] = await pairs(1);
    const traffic = new PairTraffic([pair!], { mode: "frames", payloadBytes: 64, kemFirst: false });
    await traffic.open();
    traffic.closeRecipientStreams();
    expect(await traffic.send(0)).toBe(true);
    traffic.close();
    expect(traffic.tracker.summary()).toMatchObject({ accepted: 1, delivered: 0, lost: 1 });
  });

  it("a stream refused by the server ends with its status, and never reports caught_up", async () => {
    const conn = new H2Connection(server.baseUrl);
    const stream = new FrameStream(conn, "not-a-token", () => undefined);
    await expect(stream.caughtUp).rejects.toThrow(/UNAUTHENTICATED|Unauthenticated/);
    expect((await stream.ended)?.message).toMatch(/Unauthenticated/);
    conn.close();
  });
});
