import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRole, Direction, MembershipState, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { chatEntry, createGroupOf, fullHistory, type Participant, participants, randomPayload, sendInChat, sendTo, seqsOf } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Who may see and do what in a group: outsiders, members, admins, and those who left or were removed. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Every chat-scoped RPC of both services, as `caller` would make it on `chatId` (and a message in it). */
function everyChatRpc(caller: Participant, chatId: string, messageId: string, someoneElse: string) {
  return {
    SendMessage: () =>
      caller.messaging.sendMessage({ destination: { case: "chatId", value: chatId }, clientMessageId: randomUUID(), payload: randomPayload() }),
    ListMessages: () => caller.messaging.listMessages({ chatId }),
    MarkDelivered: () => caller.messaging.markDelivered({ chatId, upToSeq: 1n }),
    MarkRead: () => caller.messaging.markRead({ chatId, upToSeq: 1n }),
    SetChatTimer: () => caller.messaging.setChatTimer({ chatId, timerSeconds: 60 }),
    EditMessage: () => caller.messaging.editMessage({ messageId, payload: randomPayload() }),
    DeleteMessage: () => caller.messaging.deleteMessage({ messageId }),
    GetGroup: () => caller.groups.getGroup({ chatId }),
    UpdateGroup: () => caller.groups.updateGroup({ chatId, updatePaths: ["encrypted_name"], encryptedName: randomBytes(8) }),
    AddMember: () => caller.groups.addMember({ chatId, cyphrId: caller.cyphrId }),
    RemoveMember: () => caller.groups.removeMember({ chatId, cyphrId: someoneElse }),
    ChangeRole: () => caller.groups.changeRole({ chatId, cyphrId: someoneElse, role: ChatRole.MEMBER }),
    LeaveGroup: () => caller.groups.leaveGroup({ chatId }),
    ListMembers: () => caller.groups.listMembers({ chatId }),
  };
}

describe("outsiders", () => {
  it("get NOT_FOUND from every RPC on a group they never belonged to, exactly as for a chat that does not exist", async () => {
    const [admin, bob, outsider] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);
    const { messageId } = await sendInChat(bob, chatId);
    const before = (await admin.groups.getGroup({ chatId })).group;

    const unknownChat = randomUUID();
    const unknownMessage = randomUUID();
    const real = everyChatRpc(outsider, chatId, messageId, bob.cyphrId);
    const fake = everyChatRpc(outsider, unknownChat, unknownMessage, bob.cyphrId);
    for (const [rpc, call] of Object.entries(real)) {
      const isMessageRpc = rpc === "EditMessage" || rpc === "DeleteMessage";
      const expected = (id: string) => (isMessageRpc ? `message ${id} not found` : new RegExp(`^(chat|group) ${id} not found$`));
      const onReal = await expectRpcError(call(), Code.NotFound, expected(isMessageRpc ? messageId : chatId));
      const onFake = await expectRpcError(fake[rpc as keyof typeof fake](), Code.NotFound, expected(isMessageRpc ? unknownMessage : unknownChat));
      // Same wording either way: the error does not reveal that the chat exists.
      expect(onReal.rawMessage.replace(isMessageRpc ? messageId : chatId, "ID"), rpc).toBe(
        onFake.rawMessage.replace(isMessageRpc ? unknownMessage : unknownChat, "ID"),
      );
    }
    expect((await admin.groups.getGroup({ chatId })).group).toEqual(before);
    expect(seqsOf(await fullHistory(admin, chatId))).toEqual([1, 2]);
    expect((await outsider.messaging.listChats({})).chats).toEqual([]);
  });

  it("get NOT_FOUND for a direct chat between two other users", async () => {
    const [alice, bob, outsider] = await participants(server.baseUrl, 3);
    const { chatId, messageId } = await sendTo(alice, bob);
    await expectRpcError(outsider.messaging.listMessages({ chatId }), Code.NotFound, `chat ${chatId} not found`);
    await expectRpcError(sendInChat(outsider, chatId), Code.NotFound, `chat ${chatId} not found`);
    await expectRpcError(outsider.messaging.deleteMessage({ messageId }), Code.NotFound, `message ${messageId} not found`);
    await expectRpcError(outsider.groups.getGroup({ chatId }), Code.NotFound, `group ${chatId} not found`);
  });

  it("a participant of a direct chat asking GroupsService about it gets INVALID_ARGUMENT", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await expectRpcError(alice.groups.getGroup({ chatId }), Code.InvalidArgument, "is a direct chat, not a group");
  });
});

describe("members and admins", () => {
  it("plain members cannot UpdateGroup, AddMember, RemoveMember, ChangeRole or SetChatTimer: PERMISSION_DENIED", async () => {
    const [admin, bob, carol, dave] = await participants(server.baseUrl, 4);
    const chatId = await createGroupOf(admin, [bob, carol]);
    const calls = {
      UpdateGroup: () => bob.groups.updateGroup({ chatId, updatePaths: ["encrypted_name"], encryptedName: randomBytes(8) }),
      AddMember: () => bob.groups.addMember({ chatId, cyphrId: dave.cyphrId }),
      RemoveMember: () => bob.groups.removeMember({ chatId, cyphrId: carol.cyphrId }),
      ChangeRole: () => bob.groups.changeRole({ chatId, cyphrId: bob.cyphrId, role: ChatRole.ADMIN }),
    };
    for (const call of Object.values(calls)) await expectRpcError(call(), Code.PermissionDenied, "only group admins can do this");
    await expectRpcError(
      bob.messaging.setChatTimer({ chatId, timerSeconds: 60 }),
      Code.PermissionDenied,
      "only group admins can change the disappearing-message timer",
    );

    expect((await admin.groups.getGroup({ chatId })).group).toMatchObject({ version: 1n, memberCount: 3 });
    expect((await bob.groups.getGroup({ chatId })).group?.myRole).toBe(ChatRole.MEMBER);
    expect(await chatEntry(bob, chatId)).toMatchObject({ lastSeq: 1n, timerSeconds: 0 });
  });

  it("members may read the group, list its members, send and leave", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    expect((await bob.groups.getGroup({ chatId })).group?.memberCount).toBe(2);
    expect((await bob.groups.listMembers({ chatId })).members).toHaveLength(2);
    expect((await sendInChat(bob, chatId)).seq).toBe(2n);
    expect(await bob.groups.leaveGroup({ chatId })).toMatchObject({ version: 2n });
  });

  it("admins may set the group's timer; it is recorded as TIMER_CHANGED", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    expect(await admin.messaging.setChatTimer({ chatId, timerSeconds: 86_400 })).toEqual(expect.objectContaining({ timerSeconds: 86_400, seq: 2n }));
    const [last] = (await bob.messaging.listMessages({ chatId, limit: 1 })).messages;
    expect(last!.systemEvent).toMatchObject({ kind: SystemEventKind.TIMER_CHANGED, actorCyphrId: admin.cyphrId, timerSeconds: 86_400 });
    expect(await chatEntry(bob, chatId)).toMatchObject({ timerSeconds: 86_400 });
  });
});

describe("history windows", () => {
  it("a removed member cannot send, sees nothing newer than the removal, and keeps the history from joining", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob, carol]); // 1
    const before = await sendInChat(bob, chatId); // 2
    await sendInChat(admin, chatId); // 3
    await admin.groups.removeMember({ chatId, cyphrId: bob.cyphrId }); // 4
    await sendInChat(admin, chatId); // 5
    await sendInChat(carol, chatId); // 6

    await expectRpcError(sendInChat(bob, chatId), Code.PermissionDenied, "you are no longer a member of this group");
    const history = await fullHistory(bob, chatId);
    expect(seqsOf(history)).toEqual([1, 2, 3, 4]);
    expect(history[3]!.systemEvent).toMatchObject({ kind: SystemEventKind.MEMBER_REMOVED, targetCyphrId: bob.cyphrId });
    const newestFirst = await bob.messaging.listMessages({ chatId, limit: 2, direction: Direction.BACKWARD });
    expect(seqsOf(newestFirst.messages)).toEqual([4, 3]);
    expect(seqsOf(await fullHistory(carol, chatId))).toEqual([1, 2, 3, 4, 5, 6]);

    expect(await chatEntry(bob, chatId)).toMatchObject({ membership: MembershipState.REMOVED, lastSeq: 4n, unreadCount: 1, memberCount: 2 });
    expect(await bob.messaging.markRead({ chatId, upToSeq: 4n })).toMatchObject({ readSeq: 4n });
    await expectRpcError(bob.messaging.markRead({ chatId, upToSeq: 5n }), Code.InvalidArgument, "beyond the last message you can see (seq 4)");
    await expectRpcError(bob.messaging.editMessage({ messageId: before.messageId, payload: randomPayload() }), Code.PermissionDenied, "no longer a member");
    await expectRpcError(bob.groups.getGroup({ chatId }), Code.PermissionDenied, "no longer a member");
    // The removal takes the member out of receipt counts.
    const [own] = (await admin.messaging.listMessages({ chatId, cursorSeq: 4n, limit: 1, direction: Direction.FORWARD })).messages;
    expect(own!.receipts?.recipientCount).toBe(1);
  });

  it("a member who left cannot send either and keeps the history up to leaving", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    await sendInChat(admin, chatId); // 2
    await bob.groups.leaveGroup({ chatId }); // 3
    await sendInChat(admin, chatId); // 4
    await expectRpcError(sendInChat(bob, chatId), Code.PermissionDenied, "no longer a member");
    await expectRpcError(bob.groups.leaveGroup({ chatId }), Code.PermissionDenied, "no longer a member");
    expect(seqsOf(await fullHistory(bob, chatId))).toEqual([1, 2, 3]);
    expect(await chatEntry(bob, chatId)).toMatchObject({ membership: MembershipState.LEFT, lastSeq: 3n });
  });

  it("a member added later sees nothing from before joining, starting with the message announcing them", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);
    const early = await sendInChat(bob, chatId); // 2
    await sendInChat(admin, chatId); // 3
    const { member } = await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId }); // 4
    expect(member?.joinedSeq).toBe(4n);
    await sendInChat(bob, chatId); // 5

    const history = await fullHistory(carol, chatId);
    expect(seqsOf(history)).toEqual([4, 5]);
    expect(history[0]!.systemEvent).toMatchObject({ kind: SystemEventKind.MEMBER_ADDED, targetCyphrId: carol.cyphrId });
    const backward = await carol.messaging.listMessages({ chatId, cursorSeq: 4n, direction: Direction.BACKWARD });
    expect(backward.messages).toEqual([]);
    expect(backward.nextCursorSeq).toBe(0n);
    expect(await chatEntry(carol, chatId)).toMatchObject({ unreadCount: 1 });
    // Messages from before joining do not exist for them, even by id.
    await expectRpcError(carol.messaging.deleteMessage({ messageId: early.messageId }), Code.NotFound, `message ${early.messageId} not found`);
    // An admin of the group may delete them, though.
    await admin.messaging.deleteMessage({ messageId: early.messageId });
  });
});
