import { randomBytes, randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatRole, MessageType, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { CallSignalType } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { createGroupOf, type Participant, participants, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { acceptRequest } from "./helpers/privacy.js";
import { closeAllStreams, grpcJsConnect, type RealtimeStream, realtimeClient, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Every kind of server frame, live, as a native client receives it (bidi Connect through
 * @grpc/grpc-js, descriptors loaded from the .proto) and as a browser does (Subscribe
 * through Connect-ES's gRPC-Web transport).
 */

const HEARTBEAT_MS = 400;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) } });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

const WIRES = {
  "grpc-js Connect": (user: Participant, resumeCursor?: number) =>
    grpcJsConnect(server.baseUrl, user.accessToken, { resumeCursor, heartbeatEveryMs: HEARTBEAT_MS / 2 }),
  "gRPC-Web Subscribe": (user: Participant, resumeCursor?: number) => subscribe(server.baseUrl, user.accessToken, { resumeCursor }),
};

describe.each(Object.keys(WIRES) as (keyof typeof WIRES)[])("over %s", (wire) => {
  /** Opens the user's stream and waits for the end of the (empty) replay. */
  async function listen(user: Participant, resumeCursor = 0): Promise<RealtimeStream> {
    const stream = WIRES[wire](user, resumeCursor);
    await stream.caughtUp();
    return stream;
  }

  it("replays the backlog in cursor order, then sends caught_up with the last replayed cursor, then live events", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = [await sendTo(alice, bob), await sendTo(alice, bob), await sendTo(alice, bob)];

    const stream = WIRES[wire](bob, 0);
    expect(await stream.caughtUp()).toBe(3);
    const live = await sendTo(alice, bob);
    await stream.untilCursor(4);

    expect(stream.received.filter((f) => f.event.case !== "heartbeat" && f.event.case !== "presence").map((f) => [f.event.case, Number(f.cursor)])).toEqual([
      ["messageNew", 1],
      ["messageNew", 2],
      ["messageNew", 3],
      ["caughtUp", 0],
      ["messageNew", 4],
    ]);
    expect(stream.all("messageNew").map(({ value }) => value.messageId)).toEqual([...sent, live].map((s) => s.messageId));
  });

  it("delivers a new message as message_new with the stored message and the recipient's next cursor", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const stream = await listen(bob);
    const payload = { ...randomPayload(200), header: randomBytes(40) };
    const clientMessageId = randomUUID();
    const sent = await alice.messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: bob.cyphrId },
      clientMessageId,
      payload,
      messageType: MessageType.TEXT,
    });

    const { frame, value } = await stream.take("messageNew");
    expect(frame.cursor).toBe(1n);
    expect(value).toMatchObject({
      messageId: sent.messageId,
      chatId: sent.chatId,
      seq: sent.seq,
      senderUserId: alice.userId,
      senderCyphrId: alice.cyphrId,
      clientMessageId,
      messageType: MessageType.TEXT,
      deleted: false,
    });
    expect(Buffer.from(value.payload!.ciphertext)).toEqual(payload.ciphertext);
    expect(Buffer.from(value.payload!.header)).toEqual(payload.header);
    expect(timestampDate(value.createdAt!).getTime()).toBe(timestampDate(sent.serverTime!).getTime());
  });

  it("delivers an edit as message_edited and a deletion as message_deleted carrying the tombstone", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    const stream = await listen(bob, 1);
    const replacement = randomPayload(90);

    await alice.messaging.editMessage({ messageId: sent.messageId, payload: replacement });
    const edited = await stream.take("messageEdited");
    expect(edited.frame.cursor).toBe(2n);
    expect(edited.value).toMatchObject({ messageId: sent.messageId, seq: sent.seq, deleted: false });
    expect(Buffer.from(edited.value.payload!.ciphertext)).toEqual(replacement.ciphertext);
    expect(edited.value.editedAt).toBeDefined();

    await alice.messaging.deleteMessage({ messageId: sent.messageId });
    const deleted = await stream.take("messageDeleted");
    expect(deleted.frame.cursor).toBe(3n);
    expect(deleted.value).toMatchObject({ messageId: sent.messageId, seq: sent.seq, deleted: true });
    expect(deleted.value.payload).toBeUndefined();
    expect(deleted.value.deletedAt).toBeDefined();
  });

  it("delivers a peer's read receipt with their delivery and read positions", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    await sendInChat(alice, sent.chatId);
    const stream = await listen(alice, 2);
    // Receipts reach only those the reader accepted: Bob accepts Alice's message request.
    await acceptRequest(server.baseUrl, bob, sent.chatId);

    await bob.messaging.markDelivered({ chatId: sent.chatId, upToSeq: 2n });
    await bob.messaging.markRead({ chatId: sent.chatId, upToSeq: 1n });

    const delivered = await stream.take("receipt");
    expect(delivered.value).toMatchObject({ chatId: sent.chatId, userId: bob.userId, cyphrId: bob.cyphrId, deliveredSeq: 2n, readSeq: 0n });
    const read = await stream.take("receipt");
    expect(read.value).toMatchObject({ chatId: sent.chatId, userId: bob.userId, deliveredSeq: 2n, readSeq: 1n });
    expect([delivered.frame.cursor, read.frame.cursor]).toEqual([3n, 4n]);
  });

  it("delivers group changes as group_changed: member added, role changed, group updated, member removed", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);
    const bobStream = await listen(bob, 1);

    await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId });
    const carolStream = await listen(carol, 0);
    await admin.groups.changeRole({ chatId, cyphrId: carol.cyphrId, role: ChatRole.ADMIN });
    await admin.groups.updateGroup({ chatId, updatePaths: ["encrypted_name"], encryptedName: randomBytes(20) });
    await admin.groups.removeMember({ chatId, cyphrId: carol.cyphrId });

    const changes = [];
    for (let i = 0; i < 4; i++) changes.push((await bobStream.take("groupChanged")).value);
    expect(changes.map((c) => ({ chatId: c.chatId, kind: SystemEventKind[c.change!.kind], actor: c.change!.actorCyphrId }))).toEqual(
      ["MEMBER_ADDED", "ROLE_CHANGED", "GROUP_UPDATED", "MEMBER_REMOVED"].map((kind) => ({ chatId, kind, actor: admin.cyphrId })),
    );
    expect(changes[0]!.change).toMatchObject({ targetUserId: carol.userId, targetCyphrId: carol.cyphrId, role: ChatRole.MEMBER });
    expect(changes[1]!.change).toMatchObject({ targetCyphrId: carol.cyphrId, role: ChatRole.ADMIN });
    expect(changes[3]!.change).toMatchObject({ targetCyphrId: carol.cyphrId });
    expect(changes.map((c) => Number(c.seq))).toEqual([2, 3, 4, 5]);
    expect(changes.map((c) => Number(c.change!.groupVersion))).toEqual([2, 3, 4, 5]);

    // The removed member learns of the removal too, and it is the last thing they hear of the group.
    const removed = await carolStream.take("groupChanged", (c) => c.change?.kind === SystemEventKind.MEMBER_REMOVED);
    expect(removed.value.change).toMatchObject({ targetUserId: carol.userId });
  });

  it("delivers a disappearing-message timer change as chat_timer_changed", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    const stream = await listen(bob, 1);

    const set = await alice.messaging.setChatTimer({ chatId: sent.chatId, timerSeconds: 3600 });
    const { frame, value } = await stream.take("chatTimerChanged");
    expect(frame.cursor).toBe(2n);
    expect(value).toEqual(expect.objectContaining({ chatId: sent.chatId, seq: set.seq, timerSeconds: 3600, actorUserId: alice.userId }));
  });

  it("delivers typing started and stopped as typing events", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const stream = await listen(bob, 1);
    const publish = realtimeClient(server.baseUrl, alice.accessToken);

    await publish.publish({ frame: { frame: { case: "typing", value: { chatId, typing: true } } } });
    expect((await stream.take("typing")).value).toMatchObject({ chatId, userId: alice.userId, cyphrId: alice.cyphrId, typing: true });
    await publish.publish({ frame: { frame: { case: "typing", value: { chatId, typing: false } } } });
    const stopped = await stream.take("typing");
    expect(stopped.value).toMatchObject({ chatId, userId: alice.userId, typing: false });
    expect(stopped.frame.cursor).toBe(0n);
  });

  it("delivers a chat peer coming online, and going offline with the time they were last seen", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const stream = await listen(bob, 1);

    const aliceStream = subscribe(server.baseUrl, alice.accessToken);
    const online = await stream.take("presence", (p) => p.userId === alice.userId);
    expect(online.value).toMatchObject({ userId: alice.userId, cyphrId: alice.cyphrId, online: true });
    expect(online.value.lastSeen).toBeUndefined();

    await aliceStream.caughtUp();
    const closedAt = Date.now();
    aliceStream.close();
    const offline = await stream.take("presence", (p) => p.userId === alice.userId);
    expect(offline.value).toMatchObject({ userId: alice.userId, online: false });
    expect(Math.abs(timestampDate(offline.value.lastSeen!).getTime() - closedAt)).toBeLessThan(2000);
  });

  it("delivers a call offer as call_signal from the caller, with its payload", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const stream = await listen(bob, 1);
    const callId = randomUUID();
    const sdp = Buffer.from(`v=0 offer ${randomUUID()}`);

    await realtimeClient(server.baseUrl, alice.accessToken).publish({
      frame: { frame: { case: "callSignal", value: { callId, chatId, type: CallSignalType.OFFER, payload: sdp, video: true } } },
    });
    const { value } = await stream.take("callSignal");
    expect(value).toMatchObject({ callId, chatId, type: CallSignalType.OFFER, video: true, fromUserId: alice.userId, fromCyphrId: alice.cyphrId });
    expect(Buffer.from(value.payload)).toEqual(sdp);
  });

  it("sends heartbeats while nothing else happens", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const stream = await listen(bob);
    const beats = await stream.count("heartbeat", 2, undefined, HEARTBEAT_MS * 4);
    expect(beats.every((f) => f.cursor === 0n && f.time !== undefined)).toBe(true);
  });
});
