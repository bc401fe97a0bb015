import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { Direction, type Message, MessageType, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { createGroupOf, type Participant, participants, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, connectEsConnect } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * A group's system messages carry the group's version (SystemEvent.group_version). The
 * disappearing timer is a chat setting: SetChatTimer does not bump the version, and its
 * TIMER_CHANGED message carries the version in force.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server.close());

async function newest(viewer: Participant, chatId: string): Promise<Message> {
  const { messages } = await viewer.messaging.listMessages({ chatId, limit: 1, direction: Direction.BACKWARD });
  return messages[0]!;
}

it("SetChatTimer in a group writes TIMER_CHANGED with the group's current version, and leaves the version as it was", async () => {
  const [admin, bob, carol] = await participants(server.baseUrl, 3);
  const chatId = await createGroupOf(admin, [bob]);
  await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId });
  const { group } = await admin.groups.updateGroup({ chatId, updatePaths: ["encrypted_name"], encryptedName: randomBytes(16) });
  expect(group!.version).toBe(3n);

  const stream = connectEsConnect(server.baseUrl, bob.accessToken);
  await stream.caughtUp();
  const { seq } = await admin.messaging.setChatTimer({ chatId, timerSeconds: 3600 });

  for (const viewer of [admin, bob, carol]) {
    const message = await newest(viewer, chatId);
    expect(message.seq).toBe(seq);
    expect(message.messageType).toBe(MessageType.SYSTEM);
    expect(message.systemEvent).toMatchObject({ kind: SystemEventKind.TIMER_CHANGED, timerSeconds: 3600, groupVersion: 3n, actorCyphrId: admin.cyphrId });
  }
  const live = await stream.take("chatTimerChanged");
  expect(live.value).toMatchObject({ chatId, seq, timerSeconds: 3600, actorUserId: admin.userId });
  expect((await bob.groups.getGroup({ chatId })).group!.version).toBe(3n);

  // The next change bumps from there; turning the timer off carries that version too.
  await admin.groups.removeMember({ chatId, cyphrId: carol.cyphrId });
  await admin.messaging.setChatTimer({ chatId, timerSeconds: 0 });
  expect((await newest(bob, chatId)).systemEvent).toMatchObject({ kind: SystemEventKind.TIMER_CHANGED, timerSeconds: 0, groupVersion: 4n });
});

it("SetChatTimer in a direct chat carries no group version (0)", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  const { chatId } = await sendTo(alice, bob);
  await bob.messaging.setChatTimer({ chatId, timerSeconds: 60 });
  expect((await newest(alice, chatId)).systemEvent).toMatchObject({ kind: SystemEventKind.TIMER_CHANGED, timerSeconds: 60, groupVersion: 0n });
});
