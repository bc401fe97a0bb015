import { randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, type Message } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { queryDatabase } from "./helpers/database.js";
import { chatEntry, createGroupOf, type Participant, participants, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** EditMessage and DeleteMessage: who may change what, and what a deleted message leaves behind. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function messageAt(viewer: Participant, chatId: string, seq: bigint): Promise<Message> {
  const { messages } = await viewer.messaging.listMessages({ chatId, cursorSeq: seq - 1n, limit: 1, direction: Direction.FORWARD });
  expect(messages[0]?.seq).toBe(seq);
  return messages[0]!;
}

describe("EditMessage", () => {
  it("the sender replaces the payload; the seq stays and edited_at is set", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    await sendInChat(bob, sent.chatId);
    const replacement = randomPayload(80);

    const { message } = await alice.messaging.editMessage({ messageId: sent.messageId, payload: replacement });
    expect(message).toMatchObject({ messageId: sent.messageId, seq: sent.seq, deleted: false });
    expect(message!.editedAt).toBeDefined();
    expect(timestampDate(message!.editedAt!).getTime()).toBeGreaterThanOrEqual(timestampDate(sent.serverTime!).getTime());

    const seen = await messageAt(bob, sent.chatId, sent.seq);
    expect(seen.editedAt).toEqual(message!.editedAt);
    expect(seen.createdAt).toEqual(sent.serverTime);
    expect(Buffer.from(seen.payload!.ciphertext)).toEqual(replacement.ciphertext);
    expect(Buffer.from(seen.payload!.nonce)).toEqual(replacement.nonce);
    // Editing adds no message: the chat still ends at seq 2.
    expect((await chatEntry(bob, sent.chatId))?.lastSeq).toBe(2n);
  });

  it("only the sender may edit: the peer gets PERMISSION_DENIED and the payload stays", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const payload = randomPayload();
    const sent = await sendTo(alice, bob, payload);
    await expectRpcError(
      bob.messaging.editMessage({ messageId: sent.messageId, payload: randomPayload() }),
      Code.PermissionDenied,
      "only the sender can edit a message",
    );
    const seen = await messageAt(alice, sent.chatId, sent.seq);
    expect(Buffer.from(seen.payload!.ciphertext)).toEqual(payload.ciphertext);
    expect(seen.editedAt).toBeUndefined();
  });

  it("not even a group admin may edit another member's message", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    const sent = await sendInChat(bob, chatId);
    await expectRpcError(
      admin.messaging.editMessage({ messageId: sent.messageId, payload: randomPayload() }),
      Code.PermissionDenied,
      "only the sender can edit",
    );
  });

  it("a deleted message cannot be edited: FAILED_PRECONDITION", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    await alice.messaging.deleteMessage({ messageId: sent.messageId });
    await expectRpcError(
      alice.messaging.editMessage({ messageId: sent.messageId, payload: randomPayload() }),
      Code.FailedPrecondition,
      "the message was deleted and cannot be edited",
    );
    expect((await messageAt(bob, sent.chatId, sent.seq)).payload).toBeUndefined();
  });

  it("the new payload is checked like a sent one, and the message id must be a known UUID", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    await expectRpcError(
      alice.messaging.editMessage({ messageId: sent.messageId, payload: { ciphertext: new Uint8Array(0) } }),
      Code.InvalidArgument,
      "payload.ciphertext must not be empty",
    );
    await expectRpcError(alice.messaging.editMessage({ messageId: sent.messageId }), Code.InvalidArgument, "payload is required");
    await expectRpcError(alice.messaging.editMessage({ messageId: "42", payload: randomPayload() }), Code.InvalidArgument, "message_id must be a UUID");
    const unknown = randomUUID();
    await expectRpcError(alice.messaging.editMessage({ messageId: unknown, payload: randomPayload() }), Code.NotFound, `message ${unknown} not found`);
  });
});

describe("DeleteMessage", () => {
  it("the sender deletes for everyone: a tombstone with deleted=true and no payload keeps the seq", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    await sendInChat(bob, sent.chatId);

    const { message: tombstone } = await alice.messaging.deleteMessage({ messageId: sent.messageId });
    expect(tombstone).toMatchObject({ messageId: sent.messageId, seq: sent.seq, deleted: true });
    expect(tombstone!.payload).toBeUndefined();
    expect(tombstone!.deletedAt).toBeDefined();

    for (const viewer of [alice, bob]) {
      const { messages } = await viewer.messaging.listMessages({ chatId: sent.chatId, direction: Direction.FORWARD });
      expect(messages.map((m) => [m.seq, m.deleted, m.payload === undefined])).toEqual([
        [1n, true, true],
        [2n, false, false],
      ]);
      expect(messages[0]).toMatchObject({ senderCyphrId: alice.cyphrId, deletedAt: tombstone!.deletedAt });
    }
    // A deleted message is not unread any more.
    expect((await chatEntry(bob, sent.chatId))?.unreadCount).toBe(0);
  });

  it("a tombstone's ciphertext columns are NULL in the database", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await alice.messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: bob.cyphrId },
      clientMessageId: randomUUID(),
      payload: { ...randomPayload(), kemCiphertext: new Uint8Array(1568).fill(7), header: new Uint8Array([1]) },
      messageType: 1,
    });
    const columns = `kem_ciphertext, ciphertext, nonce, tag, header, deleted_at IS NOT NULL AS deleted`;
    const before = await queryDatabase(server.databaseUrl, `SELECT ${columns} FROM messages WHERE id = $1`, [sent.messageId]);
    expect(Object.values(before[0]!).every((v) => v !== null)).toBe(true);

    await alice.messaging.deleteMessage({ messageId: sent.messageId });
    const after = await queryDatabase(server.databaseUrl, `SELECT ${columns} FROM messages WHERE id = $1`, [sent.messageId]);
    expect(after).toEqual([{ kem_ciphertext: null, ciphertext: null, nonce: null, tag: null, header: null, deleted: true }]);
  });

  it("deleting a deleted message succeeds and changes nothing", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    const first = await alice.messaging.deleteMessage({ messageId: sent.messageId });
    const again = await alice.messaging.deleteMessage({ messageId: sent.messageId });
    expect(again.message).toEqual(first.message);
  });

  it("the peer in a direct chat cannot delete the other's message: PERMISSION_DENIED", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    await expectRpcError(
      bob.messaging.deleteMessage({ messageId: sent.messageId }),
      Code.PermissionDenied,
      "only the sender or a group admin can delete this message",
    );
    expect((await messageAt(bob, sent.chatId, sent.seq)).deleted).toBe(false);
  });

  it("a group admin deletes another member's message", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob, carol]);
    const sent = await sendInChat(bob, chatId);
    const { message } = await admin.messaging.deleteMessage({ messageId: sent.messageId });
    expect(message).toMatchObject({ seq: sent.seq, deleted: true, senderCyphrId: bob.cyphrId });
    expect((await messageAt(carol, chatId, sent.seq)).deleted).toBe(true);
  });

  it("a plain member cannot delete another member's message: PERMISSION_DENIED", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob, carol]);
    const byBob = await sendInChat(bob, chatId);
    const byAdmin = await sendInChat(admin, chatId);
    for (const target of [byBob, byAdmin]) {
      await expectRpcError(
        carol.messaging.deleteMessage({ messageId: target.messageId }),
        Code.PermissionDenied,
        "only the sender or a group admin can delete this message",
      );
      expect((await messageAt(admin, chatId, target.seq)).deleted).toBe(false);
    }
    // Their own message they may delete.
    const byCarol = await sendInChat(carol, chatId);
    expect((await carol.messaging.deleteMessage({ messageId: byCarol.messageId })).message?.deleted).toBe(true);
  });

  it("system messages cannot be deleted, not even by an admin", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    const created = await messageAt(admin, chatId, 1n);
    await expectRpcError(admin.messaging.deleteMessage({ messageId: created.messageId }), Code.PermissionDenied, "system messages cannot be deleted");
  });
});
