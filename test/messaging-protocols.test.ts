import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRole, Direction, MessageType, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { PROTOCOLS } from "./helpers/clients.js";
import { participants, randomPayload, sendInChat, seqsOf } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Messaging and groups work the same over gRPC, gRPC-Web and Connect (the other suites use Connect). */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe.each(PROTOCOLS)("over %s", (protocol) => {
  it("a direct message is sent, listed with its payload intact, and marked read", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2, protocol);
    const payload = { kemCiphertext: randomBytes(1568), ...randomPayload(), header: randomBytes(32) };
    const clientMessageId = randomUUID();
    const sent = await alice.messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: bob.cyphrId },
      clientMessageId,
      payload,
      messageType: MessageType.MEDIA,
    });
    expect(sent).toMatchObject({ seq: 1n, duplicate: false });
    const retry = await alice.messaging.sendMessage({ destination: { case: "chatId", value: sent.chatId }, clientMessageId, payload });
    expect(retry).toMatchObject({ messageId: sent.messageId, duplicate: true });

    const { messages, nextCursorSeq } = await bob.messaging.listMessages({ chatId: sent.chatId, direction: Direction.FORWARD });
    expect(nextCursorSeq).toBe(0n);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ messageId: sent.messageId, senderCyphrId: alice.cyphrId, messageType: MessageType.MEDIA, clientMessageId });
    for (const field of ["kemCiphertext", "ciphertext", "nonce", "tag", "header"] as const) {
      expect(Buffer.from(messages[0]!.payload![field]), field).toEqual(Buffer.from(payload[field]));
    }

    expect(await bob.messaging.markRead({ chatId: sent.chatId, upToSeq: 1n })).toMatchObject({ readSeq: 1n, deliveredSeq: 1n });
    const { chats } = await alice.messaging.listChats({});
    expect(chats.map((c) => [c.chatId, c.peerCyphrId])).toEqual([[sent.chatId, bob.cyphrId]]);
  });

  it("a group is created, gains a member who reads from joining, and loses one who leaves", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3, protocol);
    const { group } = await admin.groups.createGroup({ encryptedName: randomBytes(16), memberCyphrIds: [bob.cyphrId] });
    const chatId = group!.chatId;
    await sendInChat(bob, chatId); // 2

    const added = await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId }); // 3
    expect(added).toMatchObject({ version: 2n, member: { cyphrId: carol.cyphrId, role: ChatRole.MEMBER, joinedSeq: 3n } });
    await sendInChat(carol, chatId); // 4
    const carolSees = await carol.messaging.listMessages({ chatId, direction: Direction.FORWARD });
    expect(seqsOf(carolSees.messages)).toEqual([3, 4]);

    expect(await bob.groups.leaveGroup({ chatId })).toMatchObject({ version: 3n }); // 5
    const { members } = await admin.groups.listMembers({ chatId });
    expect(members.map((m) => m.cyphrId).sort()).toEqual([admin.cyphrId, carol.cyphrId].sort());
    const [left] = (await admin.messaging.listMessages({ chatId, limit: 1 })).messages;
    expect(left!.systemEvent).toMatchObject({ kind: SystemEventKind.MEMBER_LEFT, actorCyphrId: bob.cyphrId, groupVersion: 3n });
  });

  it("errors arrive with their code and message", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2, protocol);
    const { group } = await alice.groups.createGroup({ encryptedName: randomBytes(8), memberCyphrIds: [bob.cyphrId] });
    await expectRpcError(bob.groups.addMember({ chatId: group!.chatId, cyphrId: alice.cyphrId }), Code.PermissionDenied, "only group admins");
    await expectRpcError(
      alice.messaging.sendMessage({
        destination: { case: "recipientCyphrId", value: "nobody_at_all" },
        clientMessageId: randomUUID(),
        payload: randomPayload(),
      }),
      Code.NotFound,
      'no user with cyphr_id "nobody_at_all"',
    );
    await expectRpcError(alice.messaging.listMessages({ chatId: group!.chatId, limit: 500 }), Code.InvalidArgument, "limit must be at most 200");
  });
});
