import http2 from "node:http2";
import v8 from "node:v8";
import vm from "node:vm";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, ListMessagesRequestSchema } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { identityClient } from "./helpers/clients.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { type Participant, participant, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { envelope } from "./helpers/raw-rpc.js";

/**
 * Clients that never open their HTTP/2 flow-control window cannot make the server hold their
 * answers: a response whose buffered bytes make no progress for WRITE_STALL_TIMEOUT_MS is reset
 * (RST_STREAM ENHANCE_YOUR_CALM) and its memory returned, while other clients are answered.
 * Asserted on the memory the process still holds (heap plus Buffers, after a full GC), which is
 * what a stalled answer pins; the server runs in this process.
 */

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const MESSAGES = 60;
const PAYLOAD_BYTES = 60_000;
/** One ListMessages answer: MESSAGES payloads, ~3.6 MB. */
const ANSWER_BYTES = MESSAGES * PAYLOAD_BYTES;
const LIST = "cyphr.messaging.v1.MessagingService/ListMessages";
const WAVES = 5;
const STALLED_PER_WAVE = 20;
/** What stays held at most once a wave is over, above the baseline: a quarter of one wave's answers (18 MB). */
const HELD_BOUND_BYTES = 5 * ANSWER_BYTES;

let server: LoggedServer;
let alice: Participant;
let bob: Participant;
let chatId: string;
beforeAll(async () => {
  server = await startLoggedServer({ WRITE_STALL_TIMEOUT_MS: "500", SEND_BURST: "1000" });
  alice = await participant(server.baseUrl, "grpc", "alice");
  bob = await participant(server.baseUrl, "grpc", "bob");
  chatId = (await sendTo(alice, bob, randomPayload(PAYLOAD_BYTES))).chatId;
  for (let i = 1; i < MESSAGES; i++) await sendInChat(alice, chatId, randomPayload(PAYLOAD_BYTES));
}, 120_000);
afterAll(() => server.close());

function heldBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

interface Stalled {
  session: http2.ClientHttp2Session;
  /** Resolves with the RST_STREAM code the server sent (0 if the stream ended otherwise). */
  reset: Promise<number>;
}

/** A client that asks for the whole history and never lets a byte of the answer through (initial window 0). */
function stalledListMessages(): Stalled {
  const session = http2.connect(server.baseUrl, { settings: { initialWindowSize: 0 } });
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": "/cyphr.messaging.v1.MessagingService/ListMessages",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${bob.accessToken}`,
  });
  stream.on("error", () => {});
  stream.end(envelope(toBinary(ListMessagesRequestSchema, create(ListMessagesRequestSchema, { chatId, limit: MESSAGES, direction: Direction.FORWARD }))));
  const reset = new Promise<number>((resolve) => stream.once("close", () => resolve(stream.rstCode ?? 0)));
  return { session, reset };
}

describe("answers to clients that never read them", () => {
  it("the full history answers a reading client (the answer is as large as the test says)", async () => {
    const page = await bob.messaging.listMessages({ chatId, limit: MESSAGES });
    expect(page.messages).toHaveLength(MESSAGES);
    const bytes = page.messages.reduce((n, m) => n + (m.payload?.ciphertext.length ?? 0), 0);
    expect(bytes).toBeGreaterThanOrEqual(ANSWER_BYTES);
  });

  it(`${WAVES} waves of ${STALLED_PER_WAVE} stalled ListMessages streams are each reset, the memory stays bounded, and others are answered meanwhile`, async () => {
    const baseline = heldBytes();
    const held: number[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      const stalled = Array.from({ length: STALLED_PER_WAVE }, () => stalledListMessages());
      // Meanwhile, another client's calls answer.
      const check = await identityClient("grpc", server.baseUrl).checkAvailability({ cyphrId: `free_${wave}_name` });
      expect(check.available).toBe(true);
      const page = await alice.messaging.listMessages({ chatId, limit: 3 });
      expect(page.messages).toHaveLength(3);
      const codes = await Promise.all(stalled.map((s) => s.reset));
      expect(codes).toEqual(Array(STALLED_PER_WAVE).fill(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM));
      // The connections stay open (the clients never leave); what they asked for is no longer held.
      expect(stalled.every((s) => !s.session.destroyed)).toBe(true);
      held.push(heldBytes() - baseline);
      for (const s of stalled) s.session.destroy();
    }
    // Unbounded buffering would hold every answer of every wave: WAVES × STALLED_PER_WAVE × ~3.6 MB.
    for (const bytes of held) expect(bytes).toBeLessThan(HELD_BOUND_BYTES);
  }, 120_000);

  it("answers held for clients that leave without reading are returned", async () => {
    const baseline = heldBytes();
    const before = server.rpcLines(LIST).length;
    const stalled = Array.from({ length: STALLED_PER_WAVE }, () => stalledListMessages());
    // Let the answers be built and queued, then the clients vanish.
    await new Promise((r) => setTimeout(r, 200));
    for (const s of stalled) s.session.destroy();
    await Promise.all(stalled.map((s) => s.reset));
    // Every call has ended on the server (its log line is written when its response closes).
    expect(await server.waitForRpcLines(LIST, before + STALLED_PER_WAVE, 20_000)).toHaveLength(before + STALLED_PER_WAVE);
    expect(heldBytes() - baseline).toBeLessThan(HELD_BOUND_BYTES);
  });
});
