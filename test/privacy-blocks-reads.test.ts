import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chatEntry, createGroupOf, fullHistory, type Participant, participants, randomPayload, sendInChat, sendTo, seqsOf } from "./helpers/messaging.js";
import { privacyOf } from "./helpers/privacy.js";
import { closeAllStreams, grpcJsConnect, type RealtimeStream } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * What a blocked user sends after the block never reaches the blocker by any read path:
 * not GetHistory, not unread counts, not ListChats' last seq and activity, not replay on
 * resume, not edits or deletions of it; and not after an unblock either. For the sender it is
 * stored and answered as for a recipient who never reads: no error, and the blocker never
 * counts as having received or read it.
 */

/** How long a stream is watched for a frame that must not come. */
const QUIET_MS = 400;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server?.close());

const privacy = (user: Participant) => privacyOf(server.baseUrl, user);

async function online(user: Participant): Promise<RealtimeStream> {
  const stream = grpcJsConnect(server.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

describe("a blocked user's messages in the blocker's reads", () => {
  it("a direct chat: history, unread count, last seq and activity stop at the block; replay and unblocking bring nothing back", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const first = await sendTo(alice, bob);
    await sendTo(bob, alice);
    const before = (await chatEntry(bob, first.chatId))!;
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });

    const late = [await sendTo(alice, bob), await sendTo(alice, bob)];
    for (const sent of late) expect(sent.duplicate).toBe(false);

    expect(seqsOf(await fullHistory(bob, first.chatId))).toEqual([Number(first.seq), Number(first.seq) + 1]);
    const entry = (await chatEntry(bob, first.chatId))!;
    expect(entry.unreadCount).toBe(before.unreadCount);
    expect(entry.lastSeq).toBe(before.lastSeq);
    expect(entry.lastActivityAt).toEqual(before.lastActivityAt);

    // Replay on resume from the start: nothing of the late messages.
    const stream = await online(bob);
    expect(stream.all("messageNew").map(({ value }) => value.seq)).not.toContain(late[0]!.seq);
    stream.close();

    // The sender sees every message, with the blocker as a recipient who never got them.
    const theirs = await fullHistory(alice, first.chatId);
    expect(seqsOf(theirs)).toEqual([Number(first.seq), Number(first.seq) + 1, ...late.map((s) => Number(s.seq))]);
    await bob.messaging.markRead({ chatId: first.chatId, upToSeq: entry.lastSeq });
    const lastOfTheirs = (await fullHistory(alice, first.chatId)).at(-1)!;
    expect(lastOfTheirs.receipts).toMatchObject({ recipientCount: 1, deliveredCount: 0, readCount: 0, delivered: false, read: false });

    await privacy(bob).unblockUser({ cyphrId: alice.cyphrId });
    expect(seqsOf(await fullHistory(bob, first.chatId))).toEqual([Number(first.seq), Number(first.seq) + 1]);
    expect((await chatEntry(bob, first.chatId))!.lastSeq).toBe(before.lastSeq);
    // After the unblock, what alice sends reaches bob again.
    const again = await sendTo(alice, bob);
    expect(seqsOf(await fullHistory(bob, first.chatId)).at(-1)).toBe(Number(again.seq));
    expect((await chatEntry(bob, first.chatId))!.lastSeq).toBe(again.seq);
  });

  it("a new direct chat from a blocked user never shows for the blocker, not as a request and not after an unblock, until the blocker writes; an earlier chat keeps its state", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    // An earlier conversation with carol, who bob then blocks too.
    const earlier = await sendTo(carol, bob);
    await sendTo(bob, carol);
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });
    await privacy(bob).blockUser({ cyphrId: carol.cyphrId });

    const fresh = await sendTo(alice, bob);
    expect(fresh.duplicate).toBe(false);
    await sendTo(carol, bob);
    expect(await chatEntry(bob, fresh.chatId)).toBeUndefined();
    const kept = (await chatEntry(bob, earlier.chatId))!;
    expect(kept.request).toBe(false);

    await privacy(bob).unblockUser({ cyphrId: alice.cyphrId });
    expect(await chatEntry(bob, fresh.chatId)).toBeUndefined();
    // Bob writing to alice brings the chat back, without what arrived during the block.
    const reply = await sendTo(bob, alice);
    expect(reply.chatId).toBe(fresh.chatId);
    const entry = (await chatEntry(bob, fresh.chatId))!;
    expect(entry.request).toBe(false);
    expect(seqsOf(await fullHistory(bob, fresh.chatId))).toEqual([Number(reply.seq)]);
  });

  it("an edit the blocked user makes of a message sent before the block hides that message from the blocker: no edit event, gone from history", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const old = await sendTo(alice, bob);
    await sendTo(bob, alice);
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });
    const bobStream = await online(bob);

    await alice.messaging.editMessage({ messageId: old.messageId, payload: randomPayload() });
    expect(await bobStream.quiet("messageEdited", QUIET_MS)).toEqual([]);
    expect(seqsOf(await fullHistory(bob, old.chatId))).not.toContain(Number(old.seq));
    // Alice still sees her edited message, with bob as a recipient who never read it.
    const hers = (await fullHistory(alice, old.chatId)).find((m) => m.seq === old.seq)!;
    expect(hers.editedAt).toBeDefined();
  });

  it("a group: the blocked member's later messages are gone for the blocker only, the others' stay; their edits and deletion never reach the blocker", async () => {
    const [bob, alice, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(bob, [alice, carol]);
    await sendInChat(alice, chatId);
    await sendInChat(carol, chatId);
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });
    const before = (await chatEntry(bob, chatId))!;
    const bobStream = await online(bob);

    const hidden = await sendInChat(alice, chatId);
    const fromCarol = await sendInChat(carol, chatId);
    const hiddenLast = await sendInChat(alice, chatId);

    const bobSees = seqsOf(await fullHistory(bob, chatId));
    expect(bobSees).toContain(Number(fromCarol.seq));
    expect(bobSees).not.toContain(Number(hidden.seq));
    expect(bobSees).not.toContain(Number(hiddenLast.seq));
    expect(seqsOf(await fullHistory(carol, chatId))).toEqual(expect.arrayContaining([Number(hidden.seq), Number(hiddenLast.seq)]));

    const entry = (await chatEntry(bob, chatId))!;
    expect(entry.unreadCount).toBe(before.unreadCount + 1);
    expect(entry.lastSeq).toBe(fromCarol.seq);
    expect((await chatEntry(carol, chatId))!.lastSeq).toBe(hiddenLast.seq);

    // Bob reads past alice's hidden message: for alice he still never read it.
    await bob.messaging.markRead({ chatId, upToSeq: fromCarol.seq });
    const aliceView = (await fullHistory(alice, chatId)).find((m) => m.seq === hidden.seq)!;
    expect(aliceView.receipts).toMatchObject({ recipientCount: 2, readCount: 0 });

    await alice.messaging.editMessage({ messageId: hidden.messageId, payload: randomPayload() });
    await alice.messaging.deleteMessage({ messageId: hiddenLast.messageId });
    await bobStream.take("messageNew", (n) => n.seq === fromCarol.seq);
    expect(await bobStream.quiet("messageEdited", QUIET_MS)).toEqual([]);
    expect(await bobStream.quiet("messageDeleted", QUIET_MS)).toEqual([]);
    const delivered = bobStream.all("messageNew").map(({ value }) => value.seq);
    expect(delivered).toContain(fromCarol.seq);
    expect(delivered).not.toContain(hidden.seq);
    expect(delivered).not.toContain(hiddenLast.seq);
  });
});
