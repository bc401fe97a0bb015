import http2 from "node:http2";
import v8 from "node:v8";
import vm from "node:vm";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { type Participant, participant, randomPayload, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Request bytes the server buffers are bounded per connection and in all
 * (REQUEST_BUFFER_BYTES_PER_CONNECTION, REQUEST_BUFFER_BYTES_TOTAL): a client opening many
 * HTTP/2 streams with large half-sent bodies holds at most its connection's share, the streams
 * past it are refused with RESOURCE_EXHAUSTED naming the limit, a greedier connection yields
 * to others when the process is full, and every byte returns when the client goes away.
 * Without the budget one connection held 100 × 4 MiB (measured: 99 streams × 3 MiB half-sent
 * pinned 300 MiB of the server's heap).
 */

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const MIB = 1024 * 1024;
const PER_CONNECTION = 8 * MIB;
const TOTAL = 20 * MIB;
/** Each greedy stream announces a 4 MiB message and sends this much of it, then waits. */
const HALF_SENT = 2 * MIB;
const STREAMS = 40;
const SEND = "/cyphr.messaging.v1.MessagingService/SendMessage";
const CONNECT = "/cyphr.realtime.v1.RealtimeService/Connect";

let server: TestServer;
let alice: Participant;
let bob: Participant;
beforeAll(async () => {
  server = await startTestServer({
    env: { REQUEST_BUFFER_BYTES_PER_CONNECTION: String(PER_CONNECTION), REQUEST_BUFFER_BYTES_TOTAL: String(TOTAL), SEND_BURST: "1000" },
  });
  alice = await participant(server.baseUrl, "grpc", "alice");
  bob = await participant(server.baseUrl, "connect", "bob");
});
afterAll(() => server.close());

const budget = () => server.server.requestBudget;

function heldBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (${budget().usedBytes} bytes buffered, ${budget().largestShareBytes} on one connection)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How one greedy stream ended, as its client saw it. */
interface Outcome {
  grpcStatus?: string;
  grpcMessage?: string;
  httpStatus?: number;
  body: string;
  rstCode?: number;
}

interface Greedy {
  session: http2.ClientHttp2Session;
  outcomes: Outcome[];
  close(): Promise<void>;
}

/** One HTTP/2 connection with `streams` calls to `path`, each announcing a 4 MiB message and sending only `sent` bytes of it. */
async function greedyConnection(path: string, contentType: string, headers: Record<string, string> = {}, streams = STREAMS, sent = HALF_SENT): Promise<Greedy> {
  // The greedy client queues its uploads in its own session: let it (Node's client default, 10 MB, would reset its streams itself).
  const session = http2.connect(server.baseUrl, { maxSessionMemory: 1000 });
  session.on("error", () => undefined);
  await new Promise((resolve) => session.once("remoteSettings", resolve));
  const outcomes: Outcome[] = [];
  const chunk = Buffer.alloc(64 * 1024, 7);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(4 * MIB - 64, 1);
  const enveloped = contentType.startsWith("application/grpc");
  for (let i = 0; i < streams; i++) {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers", ...headers });
    stream.on("error", () => undefined);
    const outcome: Outcome = { body: "" };
    stream.on("response", (h) => {
      outcome.httpStatus = Number(h[":status"]);
      if (h["grpc-status"] !== undefined)
        Object.assign(outcome, { grpcStatus: String(h["grpc-status"]), grpcMessage: decodeURIComponent(String(h["grpc-message"] ?? "")) });
    });
    stream.on("trailers", (t) =>
      Object.assign(outcome, { grpcStatus: String(t["grpc-status"]), grpcMessage: decodeURIComponent(String(t["grpc-message"] ?? "")) }),
    );
    stream.on("data", (d: Buffer) => (outcome.body += d.toString("latin1")));
    stream.once("close", () => {
      outcome.rstCode = stream.rstCode;
      outcomes.push(outcome);
    });
    if (enveloped) stream.write(prefix);
    for (let at = 0; at < sent; at += chunk.length) stream.write(chunk);
  }
  return {
    session,
    outcomes,
    close: () =>
      new Promise<void>((resolve) => {
        session.once("close", resolve);
        session.destroy();
      }),
  };
}

const refusedByConnection = (o: Outcome) => o.grpcStatus === "8" && /REQUEST_BUFFER_BYTES_PER_CONNECTION/.test(o.grpcMessage ?? "");
/** Streams that fit a connection's share; the rest of STREAMS are refused. */
const FITTING = Math.floor(PER_CONNECTION / HALF_SENT);

describe("the budget of buffered request bytes", () => {
  it("holds a greedy connection's half-sent unary bodies to its share, refuses the rest naming the limit, and serves everyone else", async () => {
    const before = heldBytes();
    const greedy = await greedyConnection(SEND, "application/grpc");
    await waitFor("the streams past the share to be refused", () => greedy.outcomes.filter(refusedByConnection).length >= STREAMS - FITTING);
    expect(budget().largestShareBytes).toBeLessThanOrEqual(PER_CONNECTION);
    expect(budget().usedBytes).toBeGreaterThan(PER_CONNECTION - HALF_SENT);
    // The refusal says when to come back.
    expect(greedy.outcomes.find(refusedByConnection)?.grpcMessage).toMatch(/limit of 8388608 bytes .*retry once its other requests finish/);
    // What the process holds (server and this client) is about the share, not 40 × 2 MiB (80 MiB); loosely: under half of that.
    expect(heldBytes() - before).toBeLessThan((STREAMS * HALF_SENT) / 2);
    // Other clients are served meanwhile, on the fast path and through connect-es.
    await expect(sendTo(alice, bob, randomPayload(1000))).resolves.toMatchObject({ messageId: expect.any(String) });
    await expect(sendTo(bob, alice, randomPayload(1000))).resolves.toMatchObject({ messageId: expect.any(String) });
    await greedy.close();
    await waitFor("the budget to be whole again", () => budget().usedBytes === 0);
  });

  it("lets the connection holding the most yield when the process is full, so a newcomer is still served", async () => {
    const greedy = [
      await greedyConnection(SEND, "application/grpc"),
      await greedyConnection(SEND, "application/grpc"),
      await greedyConnection(SEND, "application/grpc"),
    ];
    await waitFor("all greedy streams past the budget to be refused", () => greedy.every((g) => g.outcomes.length >= STREAMS - FITTING));
    expect(budget().usedBytes).toBeLessThanOrEqual(TOTAL);
    expect(budget().largestShareBytes).toBeLessThanOrEqual(PER_CONNECTION);
    const evicted = greedy.flatMap((g) => g.outcomes).filter((o) => /this connection held the most/.test(o.grpcMessage ?? ""));
    expect(evicted.length).toBeGreaterThan(0);
    expect(evicted[0]).toMatchObject({ grpcStatus: "8" });
    // A newcomer's request needs room in a full process: the greediest connection gives it.
    await expect(sendTo(alice, bob, randomPayload(10_000))).resolves.toMatchObject({ messageId: expect.any(String) });
    await Promise.all(greedy.map((g) => g.close()));
    await waitFor("the budget to be whole again", () => budget().usedBytes === 0);
  });

  it("holds connect-es's reads to the same share (Connect JSON over HTTP/2), answering 429 with the limit", async () => {
    const greedy = await greedyConnection(SEND, "application/json", { authorization: `Bearer ${alice.accessToken}` });
    await waitFor("the streams past the share to be refused", () => greedy.outcomes.length >= STREAMS - FITTING);
    expect(budget().largestShareBytes).toBeLessThanOrEqual(PER_CONNECTION);
    const refused = greedy.outcomes.filter((o) => o.httpStatus === 429);
    expect(refused.length).toBeGreaterThanOrEqual(STREAMS - FITTING);
    expect(JSON.parse(refused[0]!.body)).toMatchObject({ code: "resource_exhausted", message: expect.stringMatching(/REQUEST_BUFFER_BYTES_PER_CONNECTION/) });
    await greedy.close();
    await waitFor("the budget to be whole again", () => budget().usedBytes === 0);
  });

  it("ends Connect streams whose half-sent request messages pass the share with RESOURCE_EXHAUSTED", async () => {
    const greedy = await greedyConnection(CONNECT, "application/grpc", { authorization: `Bearer ${bob.accessToken}` }, 12);
    await waitFor("the streams past the share to end", () => greedy.outcomes.length >= 12 - FITTING);
    expect(budget().largestShareBytes).toBeLessThanOrEqual(PER_CONNECTION);
    expect(greedy.outcomes.filter(refusedByConnection).length).toBeGreaterThanOrEqual(12 - FITTING);
    await greedy.close();
    await waitFor("the budget to be whole again", () => budget().usedBytes === 0);
  });

  it("answers a grpc-js client's concurrent large calls past its share with RESOURCE_EXHAUSTED and retry-after, and takes the rest", async () => {
    const Messaging = grpcJsClientConstructor("cyphr/messaging/v1/messaging.proto", "cyphr.messaging.v1.MessagingService");
    const client = new Messaging(grpcAddress(server.baseUrl), grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${alice.accessToken}`);
    // Twelve 3 MiB payloads at once on one connection: HTTP/2 interleaves them, so all are partly received together.
    const big = {
      recipient_cyphr_id: bob.cyphrId,
      client_message_id: "",
      payload: { ciphertext: Buffer.alloc(3 * MIB, 1), nonce: Buffer.alloc(12), tag: Buffer.alloc(16) },
    };
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => unary(client, "SendMessage", big, metadata)));
    const errors = results.map((r) => (r.status === "rejected" ? (r.reason as grpc.ServiceError) : undefined));
    const refused = errors.filter((e) => e?.code === grpc.status.RESOURCE_EXHAUSTED);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.details).toMatch(/REQUEST_BUFFER_BYTES_PER_CONNECTION/);
    expect(refused[0]!.metadata.get("retry-after")).toEqual(["1"]);
    // The others were read in full and reached the handler, which refuses a payload over MESSAGE_MAX_BYTES.
    expect(errors.filter((e) => e?.code === grpc.status.INVALID_ARGUMENT).length).toBeGreaterThan(0);
    client.close();
    await waitFor("the budget to be whole again", () => budget().usedBytes === 0);
  });
});
