import { randomBytes, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageType, type SendMessageRequest, type SendMessageRequestSchema } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { PROTOCOLS } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { type Participant, participant, participants, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { sleep } from "./helpers/process.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** What SendMessage refuses: oversized or malformed payloads and requests, and senders over their rate. */

/** A SendMessage request as a plain init object. */
type SendInit = Exclude<MessageInitShape<typeof SendMessageRequestSchema>, SendMessageRequest>;

describe("payload and request validation (MESSAGE_MAX_BYTES 2048)", () => {
  let server: TestServer;
  let alice: Participant;
  let bob: Participant;
  let chatId: string;
  beforeAll(async () => {
    server = await startTestServer({ env: { MESSAGE_MAX_BYTES: "2048" } });
    [alice, bob] = await participants(server.baseUrl, 2);
    chatId = (await sendTo(alice, bob)).chatId;
  });
  afterAll(() => server?.close());

  const request = (overrides: Partial<SendInit> = {}): SendInit => ({
    destination: { case: "chatId", value: chatId },
    clientMessageId: randomUUID(),
    payload: randomPayload(),
    messageType: MessageType.TEXT,
    ...overrides,
  });
  const storedCount = async () =>
    Number((await queryDatabase<{ n: string }>(server.databaseUrl, `SELECT count(*) AS n FROM messages WHERE chat_id = $1`, [chatId]))[0]!.n);

  it("a payload of exactly the limit (all five fields together) is accepted", async () => {
    const payload = {
      kemCiphertext: randomBytes(1568),
      ciphertext: randomBytes(2048 - 1568 - 12 - 16 - 4),
      nonce: randomBytes(12),
      tag: randomBytes(16),
      header: randomBytes(4),
    };
    const sent = await alice.messaging.sendMessage(request({ payload }));
    expect(sent.duplicate).toBe(false);
  });

  it("a payload one byte over MESSAGE_MAX_BYTES fails with RESOURCE_EXHAUSTED naming the limit, and nothing is stored", async () => {
    const before = await storedCount();
    const payload = { ciphertext: randomBytes(2048 - 12 - 16 + 1), nonce: randomBytes(12), tag: randomBytes(16) };
    await expectRpcError(alice.messaging.sendMessage(request({ payload })), Code.ResourceExhausted, "payload is 2049 bytes; the limit is 2048 bytes");
    // The KEM ciphertext counts too.
    await expectRpcError(
      alice.messaging.sendMessage(request({ payload: { kemCiphertext: randomBytes(1568), ciphertext: randomBytes(600) } })),
      Code.ResourceExhausted,
      "the limit is 2048 bytes",
    );
    expect(await storedCount()).toBe(before);
  });

  it("an edit over the limit fails the same way", async () => {
    const sent = await sendInChat(alice, chatId);
    await expectRpcError(
      alice.messaging.editMessage({ messageId: sent.messageId, payload: { ciphertext: randomBytes(4000) } }),
      Code.ResourceExhausted,
      "the limit is 2048 bytes",
    );
  });

  const invalid: [string, () => Partial<SendInit>, string][] = [
    [
      "kem_ciphertext of the wrong length",
      () => ({ payload: { ...randomPayload(), kemCiphertext: randomBytes(1567) } }),
      "payload.kem_ciphertext must be empty or 1568 bytes (ML-KEM-1024), got 1567",
    ],
    ["an empty ciphertext", () => ({ payload: { ...randomPayload(), ciphertext: new Uint8Array(0) } }), "payload.ciphertext must not be empty"],
    ["a missing payload", () => ({ payload: undefined }), "payload is required"],
    ["a nonce over 64 bytes", () => ({ payload: { ...randomPayload(), nonce: randomBytes(65) } }), "payload.nonce must be at most 64 bytes, got 65"],
    ["a tag over 64 bytes", () => ({ payload: { ...randomPayload(), tag: randomBytes(65) } }), "payload.tag must be at most 64 bytes, got 65"],
    ["a header over 4096 bytes", () => ({ payload: { ...randomPayload(), header: randomBytes(4097) } }), "payload.header must be at most 4096 bytes, got 4097"],
    ["a client_message_id that is not a UUID", () => ({ clientMessageId: "retry-1" }), 'client_message_id must be a UUID, got "retry-1"'],
    ["an empty client_message_id", () => ({ clientMessageId: "" }), "client_message_id must be a UUID"],
    ["message_type SYSTEM", () => ({ messageType: MessageType.SYSTEM }), "message_type SYSTEM is reserved for the server"],
    ["an unknown message_type", () => ({ messageType: 99 as MessageType }), "message_type 99 is not a known MessageType"],
    ["no destination", () => ({ destination: { case: undefined } }), "destination is required: set recipient_cyphr_id or chat_id"],
    ["a chat_id that is not a UUID", () => ({ destination: { case: "chatId", value: "general" } }), 'chat_id must be a UUID, got "general"'],
  ];
  for (const [what, overrides, message] of invalid) {
    it(`${what} fails with INVALID_ARGUMENT and stores nothing`, async () => {
      const before = await storedCount();
      await expectRpcError(alice.messaging.sendMessage(request(overrides())), Code.InvalidArgument, message);
      expect(await storedCount()).toBe(before);
    });
  }
});

describe("send rate limit (SEND_RATE_PER_SECOND 5, SEND_BURST 5)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { SEND_RATE_PER_SECOND: "5", SEND_BURST: "5" } });
  });
  afterAll(() => server?.close());

  /** Sends `count` messages at once; the limiter sees them within a few milliseconds. */
  const burst = (from: Participant, chatId: string, count: number) => Promise.allSettled(Array.from({ length: count }, () => sendInChat(from, chatId)));

  it("the sixth immediate send fails with RESOURCE_EXHAUSTED and a retry-after; after waiting, sends work again", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(bob, alice);

    const results = await burst(alice, chatId, 6);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as unknown);
    expect(refused).toHaveLength(1);
    const error = refused[0];
    expect(error).toBeInstanceOf(ConnectError);
    const { code, rawMessage, metadata } = error as ConnectError;
    expect({ code: Code[code], rawMessage }).toEqual({
      code: Code[Code.ResourceExhausted],
      rawMessage: expect.stringMatching(/^send rate limit exceeded; retry in \d+ ms$/),
    });
    expect(metadata.get("retry-after")).toBe("1");
    const retryAfterMs = Number(metadata.get("retry-after-ms"));
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(200);

    // Another sender has a bucket of their own.
    await expect(sendInChat(bob, chatId)).resolves.toMatchObject({ chatId });

    await sleep(retryAfterMs + 50);
    await expect(sendInChat(alice, chatId)).resolves.toMatchObject({ chatId, duplicate: false });
  });

  it("refused requests do not spend tokens: invalid sends before a burst leave all five", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(bob, alice);
    for (let i = 0; i < 5; i++) {
      await expectRpcError(
        alice.messaging.sendMessage({ destination: { case: "chatId", value: chatId }, clientMessageId: "x", payload: randomPayload() }),
        Code.InvalidArgument,
        "client_message_id",
      );
    }
    const results = await burst(alice, chatId, 5);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill("fulfilled"));
  });

  for (const protocol of PROTOCOLS) {
    it(`the retry-after metadata reaches ${protocol} clients`, async () => {
      const alice = await participant(server.baseUrl, protocol);
      const bob = await participant(server.baseUrl, protocol);
      const { chatId } = await sendTo(bob, alice);
      const results = await burst(alice, chatId, 6);
      const refused = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(refused?.reason).toBeInstanceOf(ConnectError);
      const error = refused!.reason as ConnectError;
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toContain("retry in");
      expect(error.metadata.get("retry-after")).toMatch(/^\d+$/);
    });
  }
});
