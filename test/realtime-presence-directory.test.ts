import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queryDatabase } from "./helpers/database.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, eventually, grpcJsConnect, type RealtimeStream, setSharePresence, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The presence snapshot a stream gets after caught_up (its peers online now) comes from
 * each instance's in-memory directory of visibly online users, fed by every instance's
 * presence changes through PostgreSQL NOTIFY and reloaded whenever its LISTEN connection
 * comes back. It names exactly the peers a database scan would: online on any instance,
 * sharing presence, sharing a chat, having accepted the user (each peer here replies).
 */

/** `user` writes to each peer and each replies: accepted both ways, so each may see the other's presence. */
async function exchange(user: Participant, peers: readonly Participant[]): Promise<void> {
  for (const peer of peers) {
    await sendTo(user, peer);
    await sendTo(peer, user);
  }
}

/** Long enough for a frame that was going to arrive to have arrived. */
const SETTLE_MS = 300;

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer({ databaseUrl: a.databaseUrl, dataDir: a.dataDir });
});
afterEach(closeAllStreams);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const directoryOf = (server: TestServer) => server.app.realtime.presence.directory;

/** The user ids in a fresh stream's presence snapshot on `server` (the frames after caught_up). */
async function snapshotOn(server: TestServer, user: Participant): Promise<string[]> {
  const stream = grpcJsConnect(server.baseUrl, user.accessToken);
  await stream.caughtUp();
  await stream.quiet("presence", SETTLE_MS);
  const online = stream.all("presence").filter(({ value }) => value.online);
  stream.close();
  return online.map(({ value }) => value.userId).sort();
}

async function online(server: TestServer, user: Participant): Promise<RealtimeStream> {
  const stream = subscribe(server.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

describe("presence snapshot across instances", () => {
  it("names the peers online on the other instance who share presence: not hidden ones, not strangers, not those gone offline", async () => {
    const [alice, bob, carol, dave, erin] = await participants(a.baseUrl, 5);
    await exchange(alice, [bob, carol, dave]);
    await setSharePresence(b.baseUrl, carol, false);

    const bobOnB = await online(b, bob);
    const carolOnB = await online(b, carol);
    const daveOnB = await online(b, dave);
    const erinOnB = await online(b, erin);
    await eventually(() => [bob, dave, erin].every((u) => directoryOf(a).cyphrIdOf(u.userId) !== undefined), 5000, "A learns B's users are online");
    daveOnB.close();
    await eventually(() => directoryOf(a).cyphrIdOf(dave.userId) === undefined, 5000, "A learns dave went offline");

    expect(await snapshotOn(a, alice)).toEqual([bob.userId]);

    // Carol shares again while online: the next snapshot includes her.
    await setSharePresence(b.baseUrl, carol, true);
    await eventually(() => directoryOf(a).cyphrIdOf(carol.userId) !== undefined, 5000, "A learns carol shares");
    expect(await snapshotOn(a, alice)).toEqual([bob.userId, carol.userId].sort());

    for (const stream of [bobOnB, carolOnB, erinOnB]) stream.close();
    await eventually(() => directoryOf(a).cyphrIdOf(bob.userId) === undefined && directoryOf(a).cyphrIdOf(carol.userId) === undefined);
    expect(await snapshotOn(a, alice)).toEqual([]);
  });

  it("after its LISTEN connection was lost, an instance reloads: changes made meanwhile elsewhere are in the next snapshot", async () => {
    const [alice, bob, carol] = await participants(a.baseUrl, 3);
    await exchange(alice, [bob, carol]);
    const carolOnB = await online(b, carol);
    await eventually(() => directoryOf(a).cyphrIdOf(carol.userId) !== undefined, 5000, "A learns carol is online");

    // In one transaction: bob comes online on another instance and carol's presence row
    // goes (as when her instance is reaped), while every directory's LISTEN connection is
    // terminated; the NOTIFY at commit reaches none of them.
    const remote = randomUUID();
    const db = new pg.Client({ connectionString: a.databaseUrl });
    await db.connect();
    let terminated: number;
    try {
      await db.query("BEGIN");
      await db.query("INSERT INTO instances (id) VALUES ($1)", [remote]);
      await db.query("INSERT INTO presence (user_id, instance_id) VALUES ($1, $2)", [bob.userId, remote]);
      await db.query("DELETE FROM presence WHERE user_id = $1", [carol.userId]);
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity s, pg_terminate_backend(s.pid, 5000) WHERE s.application_name = 'cyphr-presence-directory' AND s.datname = current_database()",
      );
      terminated = rows[0]!.n;
      await db.query("COMMIT");
    } finally {
      await db.end();
    }
    expect(terminated).toBe(2);

    await eventually(() => directoryOf(a).ready && directoryOf(b).ready, 10_000, "both directories reconnected");
    expect(await snapshotOn(a, alice)).toEqual([bob.userId]);
    expect(await snapshotOn(b, alice)).toEqual([bob.userId]);
    carolOnB.close();
    await queryDatabase(a.databaseUrl, "DELETE FROM instances WHERE id = $1", [remote]);
  });
});
