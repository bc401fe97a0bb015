import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatKind, ChatRole, Direction, MembershipState, type Message, MessageType, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { queryDatabase } from "./helpers/database.js";
import { chatEntry, createGroupOf, fullHistory, type Participant, participants, seqsOf } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Groups from creation to the last member leaving: versions, system messages, roles and members. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** The newest message of the chat as `viewer` sees it. */
async function latest(viewer: Participant, chatId: string): Promise<Message> {
  const { messages } = await viewer.messaging.listMessages({ chatId, limit: 1, direction: Direction.BACKWARD });
  return messages[0]!;
}

/** A system message's event in a compact, readable form. */
function eventOf(message: Message) {
  expect(message.messageType).toBe(MessageType.SYSTEM);
  expect(message.payload).toBeUndefined();
  expect([message.senderUserId, message.senderCyphrId, message.clientMessageId]).toEqual(["", "", ""]);
  const e = message.systemEvent!;
  return {
    seq: Number(message.seq),
    kind: SystemEventKind[e.kind],
    actor: e.actorCyphrId,
    target: e.targetCyphrId,
    role: ChatRole[e.role],
    version: Number(e.groupVersion),
  };
}

describe("CreateGroup", () => {
  it("makes the caller admin and the named users members, at version 1, announced by a GROUP_CREATED message", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const encryptedName = randomBytes(40);
    const encryptedSettings = randomBytes(100);
    const { group } = await admin.groups.createGroup({ encryptedName, encryptedSettings, memberCyphrIds: [bob.cyphrId, carol.cyphrId] });

    expect(group).toMatchObject({ version: 1n, memberCount: 3, myRole: ChatRole.ADMIN });
    expect(Buffer.from(group!.encryptedName)).toEqual(encryptedName);
    expect(Buffer.from(group!.encryptedSettings)).toEqual(encryptedSettings);
    const chatId = group!.chatId;

    expect((await bob.groups.getGroup({ chatId })).group).toMatchObject({ chatId, version: 1n, memberCount: 3, myRole: ChatRole.MEMBER });
    const { members } = await carol.groups.listMembers({ chatId });
    expect(members.map((m) => [m.cyphrId, ChatRole[m.role], m.joinedSeq])).toEqual(
      [
        [admin.cyphrId, "ADMIN", 1n],
        [bob.cyphrId, "MEMBER", 1n],
        [carol.cyphrId, "MEMBER", 1n],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    expect(members.find((m) => m.cyphrId === bob.cyphrId)?.userId).toBe(bob.userId);

    const history = await fullHistory(bob, chatId);
    expect(history.map(eventOf)).toEqual([{ seq: 1, kind: "GROUP_CREATED", actor: admin.cyphrId, target: "", role: "UNSPECIFIED", version: 1 }]);
    expect(history[0]!.systemEvent!.actorUserId).toBe(admin.userId);

    const entry = await chatEntry(bob, chatId);
    expect(entry).toMatchObject({
      kind: ChatKind.GROUP,
      role: ChatRole.MEMBER,
      memberCount: 3,
      groupVersion: 1n,
      lastSeq: 1n,
      membership: MembershipState.ACTIVE,
      peerCyphrId: "",
    });
    expect(Buffer.from(entry!.encryptedGroupName)).toEqual(encryptedName);
  });

  it("a group of one (no other members) is allowed", async () => {
    const [admin] = await participants(server.baseUrl, 1);
    const { group } = await admin.groups.createGroup({ encryptedName: randomBytes(8) });
    expect(group).toMatchObject({ memberCount: 1, version: 1n });
  });

  it("an unknown member fails with NOT_FOUND naming it, and creates nothing", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const ghost = `ghost_${randomBytes(4).toString("hex")}`;
    await expectRpcError(
      admin.groups.createGroup({ encryptedName: randomBytes(8), memberCyphrIds: [bob.cyphrId, ghost] }),
      Code.NotFound,
      `no user with cyphr_id "${ghost}"`,
    );
    expect((await admin.messaging.listChats({})).chats).toEqual([]);
    expect(await queryDatabase(server.databaseUrl, `SELECT 1 FROM chat_members WHERE user_id IN ($1, $2)`, [admin.userId, bob.userId])).toEqual([]);
  });

  it("duplicate member ids, the creator among the members, malformed ids and oversized names are INVALID_ARGUMENT", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const create = (init: Parameters<typeof admin.groups.createGroup>[0]) => admin.groups.createGroup(init);
    await expectRpcError(create({ memberCyphrIds: [bob.cyphrId, bob.cyphrId] }), Code.InvalidArgument, "member_cyphr_ids must not repeat an id");
    await expectRpcError(create({ memberCyphrIds: [admin.cyphrId] }), Code.InvalidArgument, "member_cyphr_ids must not include the creator");
    await expectRpcError(create({ memberCyphrIds: ["Bob!"] }), Code.InvalidArgument, "member_cyphr_ids must match");
    await expectRpcError(create({ encryptedName: randomBytes(1025) }), Code.InvalidArgument, "encrypted_name must be at most 1024 bytes, got 1025");
    expect((await admin.messaging.listChats({})).chats).toEqual([]);
  });
});

describe("membership changes", () => {
  it("each change bumps the version and writes a seq'd system message with its kind, actor and target", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);

    const added = await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId });
    expect(added).toMatchObject({ version: 2n, member: { cyphrId: carol.cyphrId, userId: carol.userId, role: ChatRole.MEMBER, joinedSeq: 2n } });

    const promoted = await admin.groups.changeRole({ chatId, cyphrId: bob.cyphrId, role: ChatRole.ADMIN });
    expect(promoted).toMatchObject({ version: 3n, member: { cyphrId: bob.cyphrId, role: ChatRole.ADMIN } });

    const updated = await bob.groups.updateGroup({ chatId, updatePaths: ["encrypted_name"], encryptedName: randomBytes(16) });
    expect(updated.group).toMatchObject({ version: 4n, myRole: ChatRole.ADMIN });

    expect(await bob.groups.removeMember({ chatId, cyphrId: carol.cyphrId })).toMatchObject({ version: 5n });
    expect(await admin.groups.leaveGroup({ chatId })).toMatchObject({ version: 6n });

    const history = await fullHistory(bob, chatId);
    expect(history.map(eventOf)).toEqual([
      { seq: 1, kind: "GROUP_CREATED", actor: admin.cyphrId, target: "", role: "UNSPECIFIED", version: 1 },
      { seq: 2, kind: "MEMBER_ADDED", actor: admin.cyphrId, target: carol.cyphrId, role: "MEMBER", version: 2 },
      { seq: 3, kind: "ROLE_CHANGED", actor: admin.cyphrId, target: bob.cyphrId, role: "ADMIN", version: 3 },
      { seq: 4, kind: "GROUP_UPDATED", actor: bob.cyphrId, target: "", role: "UNSPECIFIED", version: 4 },
      { seq: 5, kind: "MEMBER_REMOVED", actor: bob.cyphrId, target: carol.cyphrId, role: "UNSPECIFIED", version: 5 },
      { seq: 6, kind: "MEMBER_LEFT", actor: admin.cyphrId, target: "", role: "UNSPECIFIED", version: 6 },
    ]);
    expect(history[1]!.systemEvent).toMatchObject({ actorUserId: admin.userId, targetUserId: carol.userId });
    expect((await bob.groups.getGroup({ chatId })).group).toMatchObject({ version: 6n, memberCount: 1, myRole: ChatRole.ADMIN });
    expect(await chatEntry(bob, chatId)).toMatchObject({ groupVersion: 6n, lastSeq: 6n, memberCount: 1 });
  });

  it("UpdateGroup replaces only the named fields", async () => {
    const [admin] = await participants(server.baseUrl, 1);
    const settings = randomBytes(32);
    const { group } = await admin.groups.createGroup({ encryptedName: randomBytes(8), encryptedSettings: settings });
    const name = randomBytes(12);
    const { group: updated } = await admin.groups.updateGroup({ chatId: group!.chatId, updatePaths: ["encrypted_name"], encryptedName: name });
    expect(Buffer.from(updated!.encryptedName)).toEqual(name);
    expect(Buffer.from(updated!.encryptedSettings)).toEqual(settings);
    await expectRpcError(
      admin.groups.updateGroup({ chatId: group!.chatId, updatePaths: [] }),
      Code.InvalidArgument,
      "update_paths must name at least one of encrypted_name, encrypted_settings",
    );
    await expectRpcError(
      admin.groups.updateGroup({ chatId: group!.chatId, updatePaths: ["members"] }),
      Code.InvalidArgument,
      'update_paths: unknown field "members"',
    );
  });

  it("ChangeRole to the role a member already has changes nothing and writes no message", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    expect(await admin.groups.changeRole({ chatId, cyphrId: bob.cyphrId, role: ChatRole.MEMBER })).toMatchObject({ version: 1n });
    expect((await latest(admin, chatId)).seq).toBe(1n);
    await expectRpcError(admin.groups.changeRole({ chatId, cyphrId: bob.cyphrId, role: ChatRole.UNSPECIFIED }), Code.InvalidArgument, "role must be");
  });

  it("AddMember can make an admin; re-adding a current member is ALREADY_EXISTS; unknown users are NOT_FOUND", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);
    expect(await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId, role: ChatRole.ADMIN })).toMatchObject({
      member: { role: ChatRole.ADMIN },
    });
    expect(eventOf(await latest(admin, chatId))).toMatchObject({ kind: "MEMBER_ADDED", role: "ADMIN" });

    await expectRpcError(admin.groups.addMember({ chatId, cyphrId: bob.cyphrId }), Code.AlreadyExists, `"${bob.cyphrId}" is already a member`);
    await expectRpcError(admin.groups.addMember({ chatId, cyphrId: "nobody_here_x" }), Code.NotFound, 'no user with cyphr_id "nobody_here_x"');
    expect((await admin.groups.getGroup({ chatId })).group).toMatchObject({ version: 2n, memberCount: 3 });
  });

  it("RemoveMember refuses the caller (use LeaveGroup) and users who are not members", async () => {
    const [admin, bob, outsider] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);
    await expectRpcError(admin.groups.removeMember({ chatId, cyphrId: admin.cyphrId }), Code.InvalidArgument, "use LeaveGroup");
    await expectRpcError(admin.groups.removeMember({ chatId, cyphrId: outsider.cyphrId }), Code.NotFound, `"${outsider.cyphrId}" is not a member`);
  });

  it("a removed member can be added again, and then reads from the new MEMBER_ADDED message on", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    await admin.groups.removeMember({ chatId, cyphrId: bob.cyphrId }); // 2
    const { member } = await admin.groups.addMember({ chatId, cyphrId: bob.cyphrId }); // 3
    expect(member).toMatchObject({ joinedSeq: 3n, role: ChatRole.MEMBER });
    expect(seqsOf(await fullHistory(bob, chatId))).toEqual([3]);
    expect(await chatEntry(bob, chatId)).toMatchObject({ membership: MembershipState.ACTIVE });
  });
});

describe("the last admin", () => {
  it("cannot leave or be demoted while others remain: FAILED_PRECONDITION, until another admin is named", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);

    await expectRpcError(admin.groups.leaveGroup({ chatId }), Code.FailedPrecondition, "you are the last admin; name another admin before leaving");
    await expectRpcError(
      admin.groups.changeRole({ chatId, cyphrId: admin.cyphrId, role: ChatRole.MEMBER }),
      Code.FailedPrecondition,
      "cannot demote the last admin",
    );
    expect((await admin.groups.getGroup({ chatId })).group).toMatchObject({ version: 1n, myRole: ChatRole.ADMIN, memberCount: 2 });

    await admin.groups.changeRole({ chatId, cyphrId: bob.cyphrId, role: ChatRole.ADMIN });
    expect(await admin.groups.changeRole({ chatId, cyphrId: admin.cyphrId, role: ChatRole.MEMBER })).toMatchObject({
      member: { role: ChatRole.MEMBER },
    });
    await admin.groups.leaveGroup({ chatId });
    expect((await bob.groups.listMembers({ chatId })).members.map((m) => [m.cyphrId, m.role])).toEqual([[bob.cyphrId, ChatRole.ADMIN]]);
    expect(await chatEntry(admin, chatId)).toMatchObject({ membership: MembershipState.LEFT });
  });

  it("can leave when nobody else is left", async () => {
    const [admin, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(admin, [bob]);
    await bob.groups.leaveGroup({ chatId });
    expect(await admin.groups.leaveGroup({ chatId })).toMatchObject({ version: 3n });
    expect(await chatEntry(admin, chatId)).toMatchObject({ membership: MembershipState.LEFT, memberCount: 0 });
  });
});

describe("ListMembers", () => {
  it("pages through current members ordered by Cyphr ID, each exactly once", async () => {
    const [admin, ...others] = await participants(server.baseUrl, 6);
    const chatId = await createGroupOf(admin, others);
    const gone = others[0]!;
    await admin.groups.removeMember({ chatId, cyphrId: gone.cyphrId });
    const expected = [admin, ...others.slice(1)].map((p) => p.cyphrId).sort();

    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await others[1]!.groups.listMembers({ chatId, limit: 2, pageToken });
      expect(page.members.length).toBeLessThanOrEqual(2);
      seen.push(...page.members.map((m) => m.cyphrId));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 10);
    expect(seen).toEqual(expected);
    expect(pages).toBe(3);
  });

  it("limit above 1000 and foreign page tokens are INVALID_ARGUMENT", async () => {
    const [admin] = await participants(server.baseUrl, 1);
    const chatId = await createGroupOf(admin, []);
    await expectRpcError(admin.groups.listMembers({ chatId, limit: 1001 }), Code.InvalidArgument, "limit must be at most 1000, got 1001");
    await expectRpcError(
      admin.groups.listMembers({ chatId, pageToken: "bm90LWEtdG9rZW4" }),
      Code.InvalidArgument,
      "page_token is not a token returned by ListMembers",
    );
  });
});
