import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { devicesClient, linkDevice } from "./helpers/devices.js";
import { codeName } from "./helpers/inbox.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, grpcJsConnect, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginRequest, loginUser, type RegisteredUser } from "./helpers/users.js";

/** RemoveDevice, and the devices_changed event that adding or removing a device emits. */

let a: TestServer;
let b: TestServer;
const ROOMY = { DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINK_BEGIN_PER_MINUTE: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "1000" };
beforeAll(async () => {
  a = await startTestServer({ env: ROOMY });
  b = await startTestServer({ databaseUrl: a.databaseUrl, dataDir: a.dataDir, env: ROOMY });
});
afterEach(closeAllStreams);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const devicesOf = (user: Pick<RegisteredUser, "accessToken">, server = a) => devicesClient("connect", server.baseUrl, { token: user.accessToken });

describe("RemoveDevice", () => {
  it("revokes the removed device's sessions at once and ends its streams on every instance; the other device keeps working", async () => {
    const [alice, bob] = await participants(a.baseUrl, 2);
    const phone = await linkDevice(a.baseUrl, alice);
    const phoneAgain = await loginUser(identityClient("connect", a.baseUrl), phone);
    // The phone's token was used (so its session is cached as active) before the removal.
    await devicesOf(phone).listDevices({ cyphrId: alice.cyphrId });
    const phoneOnA = grpcJsConnect(a.baseUrl, phone.accessToken, { resumeCursor: 0 });
    const phoneOnB = subscribe(b.baseUrl, phoneAgain.accessToken, { resumeCursor: 0 });
    const laptop = grpcJsConnect(b.baseUrl, alice.accessToken, { resumeCursor: 0 });
    for (const stream of [phoneOnA, phoneOnB, laptop]) await stream.caughtUp();

    await devicesOf(alice).removeDevice({ deviceId: phone.approved.deviceId });

    for (const stream of [phoneOnA, phoneOnB]) {
      const status = await stream.end(2000);
      expect({ code: codeName(status.code), message: status.message }).toEqual({ code: "UNAUTHENTICATED", message: "session was revoked" });
    }
    // Access and refresh tokens of both of the phone's sessions stop working, on both instances.
    for (const server of [a, b]) {
      for (const session of [phone, phoneAgain]) {
        await expectRpcError(devicesOf(session, server).listDevices({ cyphrId: alice.cyphrId }), Code.Unauthenticated, "session");
      }
    }
    await expectRpcError(identityClient("connect", a.baseUrl).refreshSession({ refreshToken: phone.refreshToken }), Code.Unauthenticated, "");
    // The laptop is untouched: its stream goes on and it still calls.
    const sent = await sendTo(bob, alice as Participant);
    expect((await laptop.take("messageNew", (m) => m.messageId === sent.messageId)).value.messageId).toBe(sent.messageId);
    expect(laptop.isEnded).toBe(false);
    expect((await devicesOf(alice).listDevices({ cyphrId: alice.cyphrId })).devices.map((d) => d.deviceId)).toEqual([1]);
  });

  it("a removed device cannot log in again (UNAUTHENTICATED 'invalid login credentials'), and its sessions are gone from the database", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const phone = await linkDevice(a.baseUrl, alice);
    await devicesOf(alice).removeDevice({ deviceId: 2 });
    const identity = identityClient("connect", a.baseUrl);
    const { nonce } = await identity.createChallenge({ cyphrId: alice.cyphrId });
    await expectRpcError(identity.login(loginRequest(phone.device, alice.cyphrId, nonce)), Code.Unauthenticated, "invalid login credentials");
    const [row] = await queryDatabase<{ n: number }>(a.databaseUrl, "SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND device_id = 2", [
      alice.userId,
    ]);
    expect(row!.n).toBe(0);
  });

  it("the removed device's MLS key packages go with it in the same transaction; the other device's stay", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const phone = await linkDevice(a.baseUrl, alice);
    // Rows as UploadKeyPackages stores them (contents do not matter to the removal).
    for (const deviceId of [1, phone.approved.deviceId]) {
      await queryDatabase(
        a.databaseUrl,
        `INSERT INTO key_packages (user_id, device_id, ciphersuite, ref, key_package, last_resort, not_after)
         VALUES ($1, $2, 82, decode(md5(random()::text), 'hex') || decode(md5(random()::text), 'hex'), '\\x00', false, 4102444800)`,
        [alice.userId, deviceId],
      );
    }
    await devicesOf(alice).removeDevice({ deviceId: phone.approved.deviceId });
    const rows = await queryDatabase<{ device_id: number }>(a.databaseUrl, "SELECT device_id FROM key_packages WHERE user_id = $1", [alice.userId]);
    expect(rows.map((r) => r.device_id)).toEqual([1]);
  });

  it("a device may remove itself; the last device of an account cannot be removed (FAILED_PRECONDITION)", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const phone = await linkDevice(a.baseUrl, alice);
    await devicesOf(phone).removeDevice({ deviceId: 2 });
    await expectRpcError(devicesOf(phone).listDevices({ cyphrId: alice.cyphrId }), Code.Unauthenticated, "session");
    await expectRpcError(devicesOf(alice).removeDevice({ deviceId: 1 }), Code.FailedPrecondition, "cannot remove the last device of the account");
    expect((await devicesOf(alice).listDevices({ cyphrId: alice.cyphrId })).devices).toHaveLength(1);
  });

  it("removing a device the account does not have is NOT_FOUND, and nothing changes", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    await linkDevice(a.baseUrl, alice);
    await expectRpcError(devicesOf(alice).removeDevice({ deviceId: 7 }), Code.NotFound, "the account has no device 7");
    expect((await devicesOf(alice).listDevices({ cyphrId: alice.cyphrId })).devices.map((d) => d.deviceId)).toEqual([1, 2]);
  });

  it("a device of another account cannot be removed: the id is looked up in the caller's own account only", async () => {
    const [alice, mallory] = await participants(a.baseUrl, 2);
    await linkDevice(a.baseUrl, alice);
    await linkDevice(a.baseUrl, mallory);
    await devicesOf(mallory).removeDevice({ deviceId: 2 });
    expect((await devicesOf(alice).listDevices({ cyphrId: alice.cyphrId })).devices.map((d) => d.deviceId)).toEqual([1, 2]);
  });
});

describe("devices_changed", () => {
  it("reaches a chat peer's live stream and the account's own stream when a device is added and when one is removed", async () => {
    const [alice, bob] = await participants(a.baseUrl, 2);
    await sendTo(alice, bob);
    const bobLive = grpcJsConnect(b.baseUrl, bob.accessToken, { resumeCursor: 0 });
    const aliceLive = subscribe(a.baseUrl, alice.accessToken, { resumeCursor: 0 });
    await Promise.all([bobLive.caughtUp(), aliceLive.caughtUp()]);

    await linkDevice(a.baseUrl, alice);
    for (const stream of [bobLive, aliceLive]) {
      const { value, frame } = await stream.take("devicesChanged");
      expect(value).toMatchObject({ userId: alice.userId, cyphrId: alice.cyphrId });
      expect(frame.cursor).toBeGreaterThan(0n);
    }
    await devicesOf(alice).removeDevice({ deviceId: 2 });
    for (const stream of [bobLive, aliceLive]) expect((await stream.take("devicesChanged")).value.userId).toBe(alice.userId);
  });

  it("is durable: a peer that was offline gets it when its stream resumes", async () => {
    const [alice, bob] = await participants(a.baseUrl, 2);
    await sendTo(alice, bob);
    await linkDevice(a.baseUrl, alice);
    const bobLater = subscribe(a.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await bobLater.caughtUp();
    expect(bobLater.all("devicesChanged").map(({ value }) => value.cyphrId)).toEqual([alice.cyphrId]);
  });

  it("is not sent to users who share no chat with the account", async () => {
    const [alice, stranger] = await participants(a.baseUrl, 2);
    const watching = subscribe(a.baseUrl, stranger.accessToken, { resumeCursor: 0 });
    await watching.caughtUp();
    await linkDevice(a.baseUrl, alice);
    expect(await watching.quiet("devicesChanged", 500)).toEqual([]);
  });
});

describe("RenameDevice and last-active dates", () => {
  it("renames a device of the caller's account with a client-encrypted name; an unknown device is NOT_FOUND", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const renamed = await devicesOf(alice).renameDevice({ deviceId: 1, encryptedName: Buffer.from("sealed") });
    expect(Buffer.from(renamed.device!.encryptedName).toString()).toBe("sealed");
    await expectRpcError(devicesOf(alice).renameDevice({ deviceId: 9, encryptedName: new Uint8Array(1) }), Code.NotFound, "no device 9");
  });

  it("ListDevices gives the last-active day at midnight UTC, and login moves it to today at most once a day", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    await queryDatabase(a.databaseUrl, "UPDATE devices SET last_active_on = current_date - 3 WHERE user_id = $1", [alice.userId]);
    const before = (await devicesOf(alice).listDevices({ cyphrId: alice.cyphrId })).devices[0]!.lastActiveDate!;
    expect(Number(before.seconds) % 86_400).toBe(0);
    expect(before.nanos).toBe(0);
    await loginUser(identityClient("connect", a.baseUrl), alice);
    const after = (await devicesOf(alice).listDevices({ cyphrId: alice.cyphrId })).devices[0]!.lastActiveDate!;
    expect(Number(after.seconds) - Number(before.seconds)).toBe(3 * 86_400);
    const [row] = await queryDatabase<{ today: boolean }>(a.databaseUrl, "SELECT last_active_on = current_date AS today FROM devices WHERE user_id = $1", [
      alice.userId,
    ]);
    expect(row!.today).toBe(true);
    // A second login the same day does not write the row again (its xmin, the writing transaction, stays).
    const xmin = async () =>
      (await queryDatabase<{ xmin: string }>(a.databaseUrl, "SELECT xmin::text FROM devices WHERE user_id = $1", [alice.userId]))[0]!.xmin;
    const written = await xmin();
    await loginUser(identityClient("connect", a.baseUrl), alice);
    expect(await xmin()).toBe(written);
  });
});
