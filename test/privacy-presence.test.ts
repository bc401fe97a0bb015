import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MlsChatsService } from "../src/gen/cyphr/mls/v1/mls_chats_pb.js";
import { onlinePeers } from "../src/realtime/presence-repo.js";
import { clientFor } from "./helpers/clients.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { acceptRequest, privacyOf } from "./helpers/privacy.js";
import { closeAllStreams, eventually, grpcJsConnect, type RealtimeStream } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Presence goes to accepted contacts only: a user's online status reaches a chat peer only
 * when the user accepted that peer (wrote to them, replied, accepted their request), never
 * across a block either way, in the snapshot a stream gets after caught_up and in the live
 * events alike. A requester sees nothing of the recipient until accepted; a blocked user
 * sees the blocker exactly as someone who went offline.
 */

/** How long a stream is watched for a frame that must not come. */
const QUIET_MS = 400;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server?.close());

const directory = () => server.app.realtime.presence.directory;

async function online(user: Participant): Promise<RealtimeStream> {
  const stream = grpcJsConnect(server.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

/** Waits until every instance knows `user` is visibly online (their presence row is in). */
async function visible(user: Participant): Promise<void> {
  await eventually(() => directory().cyphrIdOf(user.userId) !== undefined, 5000, `${user.cyphrId} visibly online`);
}

/** Whose online status a fresh stream of `user` gets after caught_up. */
async function snapshotOf(user: Participant): Promise<string[]> {
  const stream = await online(user);
  await stream.quiet("presence", QUIET_MS);
  const seen = stream
    .all("presence")
    .filter(({ value }) => value.online)
    .map(({ value }) => value.userId);
  stream.close();
  await stream.ended;
  return seen.sort();
}

describe("presence for accepted contacts only", () => {
  it("a requester gets no presence from the recipient (snapshot or live) until accepted, then at once; the recipient sees the requester", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob); // alice accepted bob by writing; bob has not accepted alice

    const bobStream = await online(bob);
    await visible(bob);
    expect(await snapshotOf(alice)).toEqual([]);

    const aliceStream = await online(alice);
    await bobStream.take("presence", (p) => p.userId === alice.userId && p.online);
    // Bob going offline and coming back: nothing of it reaches alice.
    bobStream.close();
    await bobStream.ended;
    const bobAgain = await online(bob);
    expect(await aliceStream.quiet("presence", QUIET_MS, (p) => p.userId === bob.userId)).toEqual([]);

    await acceptRequest(server.baseUrl, bob, chatId);
    const { value } = await aliceStream.take("presence", (p) => p.userId === bob.userId);
    expect(value.online).toBe(true);
    expect(await snapshotOf(alice)).toEqual([bob.userId]);
    bobAgain.close();
    await aliceStream.take("presence", (p) => p.userId === bob.userId && !p.online);
  });

  it("a reply accepts at once: the replier's presence reaches the first writer's open stream as the reply is stored, and later snapshots", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const bobStream = await online(bob);
    await visible(bob);
    const aliceStream = await online(alice);
    expect(await aliceStream.quiet("presence", QUIET_MS, (p) => p.userId === bob.userId)).toEqual([]);

    await sendTo(bob, alice);
    const { value } = await aliceStream.take("presence", (p) => p.userId === bob.userId);
    expect(value.online).toBe(true);
    expect(await snapshotOf(alice)).toEqual([bob.userId]);
    bobStream.close();
    await aliceStream.take("presence", (p) => p.userId === bob.userId && !p.online);
  });

  it("starting an MLS direct chat accepts the peer at once: the creator's presence reaches the peer's open stream", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const bobStream = await online(bob);
    await online(alice);
    await visible(alice);
    expect(await bobStream.quiet("presence", QUIET_MS, (p) => p.userId === alice.userId)).toEqual([]);

    const chats = clientFor(MlsChatsService, "connect", server.baseUrl, { token: alice.accessToken });
    await chats.createMlsChat({ kind: { case: "peerCyphrId", value: bob.cyphrId }, ciphersuite: 0 });
    const { value } = await bobStream.take("presence", (p) => p.userId === alice.userId);
    expect(value.online).toBe(true);
  });

  it("a block hides each from the other as if they went offline, in live events and snapshots, and stays so after unblocking until accepted again", async () => {
    const [alice, carol] = await participants(server.baseUrl, 2);
    await sendTo(alice, carol);
    await sendTo(carol, alice);
    const aliceStream = await online(alice);
    const carolStream = await online(carol);
    await aliceStream.take("presence", (p) => p.userId === carol.userId && p.online);
    await carolStream.take("presence", (p) => p.userId === alice.userId && p.online);

    await privacyOf(server.baseUrl, carol).blockUser({ cyphrId: alice.cyphrId });
    const { value: gone } = await aliceStream.take("presence", (p) => p.userId === carol.userId);
    expect(gone.online).toBe(false);
    expect(gone.lastSeen).toBeDefined();
    await carolStream.take("presence", (p) => p.userId === alice.userId && !p.online);

    // Carol's later transitions never reach alice, and neither sees the other in a snapshot.
    carolStream.close();
    await carolStream.ended;
    const carolAgain = await online(carol);
    await visible(carol);
    expect(await aliceStream.quiet("presence", QUIET_MS, (p) => p.userId === carol.userId)).toEqual([]);
    expect(await snapshotOf(alice)).toEqual([]);
    expect(await snapshotOf(carol)).toEqual([]);

    // The directory reconnecting falls back to the database: the same answer.
    expect(await onlinePeers(server.app.pool, alice.userId)).toEqual([]);

    await privacyOf(server.baseUrl, carol).unblockUser({ cyphrId: alice.cyphrId });
    expect(await snapshotOf(alice)).toEqual([]);
    carolAgain.close();
    expect(await aliceStream.quiet("presence", QUIET_MS, (p) => p.userId === carol.userId)).toEqual([]);
  });

  it("the database fallback names the same peers as the directory: accepted contacts who share presence and are online", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    await sendTo(alice, bob);
    await sendTo(bob, alice);
    await sendTo(alice, carol); // carol never replies
    await online(bob);
    await online(carol);
    await visible(bob);
    await visible(carol);
    expect((await onlinePeers(server.app.pool, alice.userId)).map((p) => p.userId)).toEqual([bob.userId]);
    expect(await snapshotOf(alice)).toEqual([bob.userId]);
  });
});
