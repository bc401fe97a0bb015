import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queryDatabase } from "./helpers/database.js";
import { createGroupOf, type Participant, participants, sendTo } from "./helpers/messaging.js";
import { anotherDevice, closeAllStreams, grpcJsConnect, type RealtimeStream, setSharePresence, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Typing and presence are ephemeral and private: typing reaches the chat's other current
 * members, presence reaches users who share a chat, and only for users who share their
 * presence (IdentityService.UpdateProfile, update_paths ["share_presence"]).
 */

const TYPING_EXPIRY_MS = 400;
/** Long enough for an event that was going to arrive to have arrived. */
const SETTLE_MS = 300;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { TYPING_EXPIRY_MS: String(TYPING_EXPIRY_MS) } });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

async function online(user: Participant): Promise<RealtimeStream> {
  const stream = grpcJsConnect(server.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

describe("typing", () => {
  it("reaches the chat's other current members only: not the typist's devices, not strangers, not former members", async () => {
    const [admin, bob, carol, dave, erin] = await participants(server.baseUrl, 5);
    const chatId = await createGroupOf(admin, [bob, carol, erin]);
    await admin.groups.removeMember({ chatId, cyphrId: erin.cyphrId });
    await sendTo(admin, dave); // dave shares a chat with the typist, but not this one
    const adminTablet = await anotherDevice(server.baseUrl, admin);
    const [typist, tablet, bobStream, carolStream, daveStream, erinStream] = await Promise.all([
      online(admin),
      online(adminTablet),
      online(bob),
      online(carol),
      online(dave),
      online(erin),
    ]);

    typist.typing(chatId, true);
    for (const member of [bobStream, carolStream]) {
      expect((await member.take("typing")).value).toMatchObject({ chatId, userId: admin.userId, cyphrId: admin.cyphrId, typing: true });
    }
    const heardByOutsiders = await Promise.all([typist, tablet, daveStream, erinStream].map((s) => s.quiet("typing", SETTLE_MS)));
    expect(heardByOutsiders).toEqual([[], [], [], []]);
  });

  it("lapses when not refreshed: after TYPING_EXPIRY_MS the server itself sends typing false", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const [aliceStream, bobStream] = await Promise.all([online(alice), online(bob)]);

    aliceStream.typing(chatId, true);
    await bobStream.take("typing", (t) => t.typing);
    const started = performance.now();
    const stopped = await bobStream.take("typing", (t) => !t.typing, TYPING_EXPIRY_MS * 5);
    expect(stopped.value).toMatchObject({ chatId, userId: alice.userId });
    expect(performance.now() - started).toBeGreaterThanOrEqual(TYPING_EXPIRY_MS * 0.8);
  });

  it("a refresh keeps it alive and an explicit stop ends it without a second stop from the server", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const [aliceStream, bobStream] = await Promise.all([online(alice), online(bob)]);

    aliceStream.typing(chatId, true);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, TYPING_EXPIRY_MS / 2));
      aliceStream.typing(chatId, true);
    }
    await bobStream.count("typing", 4, (t) => t.typing);
    expect(bobStream.all("typing").filter(({ value }) => !value.typing)).toEqual([]);

    aliceStream.typing(chatId, false);
    await bobStream.take("typing", (t) => !t.typing);
    expect(await bobStream.quiet("typing", TYPING_EXPIRY_MS * 2, (t) => !t.typing)).toEqual([]);
  });
});

describe("presence", () => {
  it("reaches users who share a chat with the user, and nobody else", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    await sendTo(alice, bob);
    const [bobStream, carolStream] = await Promise.all([online(bob), online(carol)]);

    const aliceStream = subscribe(server.baseUrl, alice.accessToken);
    await bobStream.take("presence", (p) => p.userId === alice.userId && p.online);
    aliceStream.close();
    await bobStream.take("presence", (p) => p.userId === alice.userId && !p.online);
    expect(await carolStream.quiet("presence", SETTLE_MS)).toEqual([]);
  });

  it("is never announced for a user who turned share_presence off, and is again once they turn it back on", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const bobStream = await online(bob);

    await setSharePresence(server.baseUrl, alice, false);
    const hidden = await online(alice);
    hidden.close();
    await hidden.ended;
    expect(await bobStream.quiet("presence", SETTLE_MS, (p) => p.userId === alice.userId)).toEqual([]);

    await setSharePresence(server.baseUrl, alice, true);
    const visible = await online(alice);
    await bobStream.take("presence", (p) => p.userId === alice.userId && p.online);
    visible.close();
    await bobStream.take("presence", (p) => p.userId === alice.userId && !p.online);
  });

  it("goes online with a user's first stream and offline only when their last one closes", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const aliceTablet = await anotherDevice(server.baseUrl, alice);
    const bobStream = await online(bob);

    const phone = await online(alice);
    const tablet = await online(aliceTablet);
    const browser = subscribe(server.baseUrl, alice.accessToken);
    await browser.caughtUp();
    phone.close();
    tablet.close();
    expect(await bobStream.quiet("presence", SETTLE_MS, (p) => !p.online)).toEqual([]);
    browser.close();
    await bobStream.take("presence", (p) => p.userId === alice.userId && !p.online);
    expect(bobStream.all("presence").map(({ value }) => value.online)).toEqual([true, false]);
  });
});

describe("presence sharing toggled while online", () => {
  it("shows peers the user going offline when sharing is turned off, and online again when turned back on", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const bobStream = await online(bob);
    const aliceStream = await online(alice);
    await bobStream.take("presence", (p) => p.userId === alice.userId && p.online);

    await setSharePresence(server.baseUrl, alice, false);
    const { value: hidden } = await bobStream.take("presence", (p) => p.userId === alice.userId && !p.online);
    expect(hidden.lastSeen).toBeDefined();

    await setSharePresence(server.baseUrl, alice, true);
    await bobStream.take("presence", (p) => p.userId === alice.userId && p.online);
    aliceStream.close();
  });

  it("tells a client that connects which of its peers are online already (after caught_up)", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const aliceStream = await online(alice);
    // Alice's presence row is written just after her stream opens; wait for it.
    for (let i = 0; i < 100; i++) {
      if ((await queryDatabase(server.databaseUrl, "SELECT 1 FROM presence WHERE user_id = $1", [alice.userId])).length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const bobStream = await online(bob);
    const { value: snapshot } = await bobStream.take("presence", (p) => p.userId === alice.userId);
    expect(snapshot.online).toBe(true);
    aliceStream.close();
  });
});
