import { randomBytes } from "node:crypto";
import { type Client, Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachmentsService } from "../src/gen/cyphr/attachments/v1/attachments_pb.js";
import type { IdentityService } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { uploadBytes } from "./helpers/attachments.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { createLinguisticCollationDatabase } from "./helpers/collation.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser, uniqueCyphrId } from "./helpers/users.js";
import { identityClientOver, WIRES } from "./helpers/wires.js";

/** GetProfile, UpdateProfile and SearchUsers. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const anonymous = () => identityClient("connect", server.baseUrl);
const as = (user: RegisteredUser) => identityClient("connect", server.baseUrl, { token: user.accessToken });

/** An UpdateProfile request that names `paths`; every other field carries a value that must be ignored. */
function update(paths: string[], values: Partial<Parameters<Client<typeof IdentityService>["updateProfile"]>[0]> = {}) {
  return {
    updatePaths: paths,
    displayName: "IGNORED unless named",
    avatarRef: "ignored-unless-named",
    encryptedSettings: new Uint8Array([0xee]),
    discoverable: false,
    sharePresence: false,
    ...values,
  };
}

const SETTINGS = new Uint8Array([9, 8, 7]);

/** An avatar_ref: the id of an attachment the user uploaded (the avatar, encrypted by the client). */
function uploadAvatar(user: RegisteredUser): Promise<string> {
  return uploadBytes(clientFor(AttachmentsService, "connect", server.baseUrl, { token: user.accessToken }), new Uint8Array(randomBytes(300)));
}

/** A prefix no other test uses, so that searches see only this test's users. */
function uniquePrefix(): string {
  return `q${randomBytes(3).toString("hex")}`;
}

/** New accounts are not discoverable (the secure default): the search tests' users opt in. */
async function registerAll(cyphrIds: string[]): Promise<RegisteredUser[]> {
  const users = await Promise.all(cyphrIds.map((id) => registerUser(anonymous(), id)));
  await Promise.all(users.map((u) => as(u).updateProfile(update(["discoverable"], { discoverable: true }))));
  return users;
}

describe.each(WIRES)("profiles over $name", (wire) => {
  it("GetProfile returns the public profile and public keys, without a token", async () => {
    const user = await registerUser(anonymous(), undefined, "Grace");
    const before = Math.floor(Date.now() / 1000);
    const { profile } = await identityClientOver(wire, server.baseUrl).getProfile({ cyphrId: user.cyphrId });

    expect(profile).toMatchObject({ userId: user.userId, cyphrId: user.cyphrId, displayName: "Grace", avatarRef: "" });
    expect(new Uint8Array(profile!.identityPublicKey)).toEqual(user.device.identityPublicKey);
    expect(new Uint8Array(profile!.mlKemPublicKey)).toEqual(user.device.mlKemPublicKey);
    expect(Math.abs(Number(profile!.createdAt!.seconds) - before)).toBeLessThanOrEqual(5);
  });

  it("UpdateProfile changes the named fields and returns the caller's own profile", async () => {
    const user = await registerUser(anonymous());
    const rpc = identityClientOver(wire, server.baseUrl, { token: user.accessToken });
    const avatar = await uploadAvatar(user);
    const res = await rpc.updateProfile({
      updatePaths: ["display_name", "avatar_ref", "encrypted_settings", "discoverable", "share_presence"],
      displayName: "Ada",
      avatarRef: avatar,
      encryptedSettings: new Uint8Array([1, 2, 3]),
      discoverable: false,
      sharePresence: false,
    });

    expect(res.profile).toMatchObject({ userId: user.userId, displayName: "Ada", avatarRef: avatar });
    expect(new Uint8Array(res.encryptedSettings)).toEqual(new Uint8Array([1, 2, 3]));
    expect(res.discoverable).toBe(false);
    expect(res.sharePresence).toBe(false);
    const { profile } = await anonymous().getProfile({ cyphrId: user.cyphrId });
    expect(profile).toMatchObject({ displayName: "Ada", avatarRef: avatar });
  });

  it("SearchUsers returns discoverable users whose id starts with the prefix", async () => {
    const prefix = uniquePrefix();
    const [a, b] = await registerAll([`${prefix}_a`, `${prefix}_b`]);
    await registerAll([`${prefix.slice(0, -1)}z_c`]);
    const res = await identityClientOver(wire, server.baseUrl, { token: a!.accessToken }).searchUsers({ prefix });
    expect(res.profiles.map((p) => p.cyphrId)).toEqual([a!.cyphrId, b!.cyphrId]);
    expect(res.nextPageToken).toBe("");
  });
});

describe("GetProfile", () => {
  it("fails NOT_FOUND for an id nobody registered", async () => {
    const call = anonymous().getProfile({ cyphrId: "nobody_here" });
    await expectRpcError(call, Code.NotFound, 'no user with cyphr_id "nobody_here"');
  });

  it("fails INVALID_ARGUMENT for a malformed id", async () => {
    await expectRpcError(anonymous().getProfile({ cyphrId: "Bad Id" }), Code.InvalidArgument, "cyphr_id must match");
  });

  it("still shows a user who is not discoverable", async () => {
    const user = await registerUser(anonymous());
    await as(user).updateProfile(update(["discoverable"], { discoverable: false }));
    expect((await anonymous().getProfile({ cyphrId: user.cyphrId })).profile!.userId).toBe(user.userId);
  });
});

describe("UpdateProfile: update_paths", () => {
  it("fields not named keep their value, whatever the request carries for them", async () => {
    const user = await registerUser(anonymous(), undefined, "Alice");
    await as(user).updateProfile(update(["avatar_ref", "encrypted_settings"], { avatarRef: await uploadAvatar(user), encryptedSettings: SETTINGS }));

    // The request also carries display_name "IGNORED…", discoverable=false and share_presence=false.
    const second = await uploadAvatar(user);
    const res = await as(user).updateProfile(update(["avatar_ref"], { avatarRef: second }));
    expect(res.profile).toMatchObject({ displayName: "Alice", avatarRef: second });
    expect(new Uint8Array(res.encryptedSettings)).toEqual(SETTINGS);
    expect(res.discoverable).toBe(false); // the secure default: nobody finds a new account by search
    expect(res.sharePresence).toBe(true);
  });

  it("a named field with an empty value is cleared", async () => {
    const user = await registerUser(anonymous(), undefined, "Alice");
    await as(user).updateProfile(update(["avatar_ref", "encrypted_settings"], { avatarRef: await uploadAvatar(user), encryptedSettings: SETTINGS }));

    const empty = { displayName: "", avatarRef: "", encryptedSettings: new Uint8Array(0) };
    const res = await as(user).updateProfile(update(["display_name", "avatar_ref", "encrypted_settings"], empty));
    expect(res.profile).toMatchObject({ displayName: "", avatarRef: "" });
    expect(res.encryptedSettings).toHaveLength(0);
    expect((await anonymous().getProfile({ cyphrId: user.cyphrId })).profile).toMatchObject({ displayName: "", avatarRef: "" });
  });

  it("a display name of only white space clears it", async () => {
    const user = await registerUser(anonymous(), undefined, "Alice");
    const res = await as(user).updateProfile(update(["display_name"], { displayName: "  \t " }));
    expect(res.profile!.displayName).toBe("");
  });

  it("discoverable and share_presence can be switched off and on again", async () => {
    const user = await registerUser(anonymous());
    const paths = ["discoverable", "share_presence"];
    const off = await as(user).updateProfile(update(paths, { discoverable: false, sharePresence: false }));
    expect([off.discoverable, off.sharePresence]).toEqual([false, false]);
    const on = await as(user).updateProfile(update(paths, { discoverable: true, sharePresence: true }));
    expect([on.discoverable, on.sharePresence]).toEqual([true, true]);
  });

  it("changes only the caller's profile", async () => {
    const caller = await registerUser(anonymous(), undefined, "Caller");
    const bystander = await registerUser(anonymous(), undefined, "Bystander");
    await as(caller).updateProfile(update(["display_name"], { displayName: "Renamed" }));
    expect((await anonymous().getProfile({ cyphrId: bystander.cyphrId })).profile!.displayName).toBe("Bystander");
  });

  it("no update_paths fails INVALID_ARGUMENT", async () => {
    const user = await registerUser(anonymous());
    const call = as(user).updateProfile(update([]));
    await expectRpcError(call, Code.InvalidArgument, "update_paths must name at least one of display_name");
  });

  it("an unknown path fails INVALID_ARGUMENT and nothing changes, not even the valid paths named with it", async () => {
    const user = await registerUser(anonymous(), undefined, "Alice");
    await expectRpcError(
      as(user).updateProfile(update(["display_name", "cyphr_id"], { displayName: "Mallory" })),
      Code.InvalidArgument,
      'update_paths: unknown field "cyphr_id"',
    );
    expect((await anonymous().getProfile({ cyphrId: user.cyphrId })).profile!.displayName).toBe("Alice");
  });

  it("requires an access token", async () => {
    await expectRpcError(anonymous().updateProfile(update(["display_name"])), Code.Unauthenticated, "missing authorization");
  });
});

describe("UpdateProfile: field rules", () => {
  let user: RegisteredUser;
  beforeAll(async () => {
    user = await registerUser(anonymous());
  });

  const AVATAR_RULE = "avatar_ref must be 1-512 printable ASCII";
  it.each([
    ["a display name of 65 code points", { updatePaths: ["display_name"], displayName: "é".repeat(65) }, "at most 64 characters"],
    ["a display name with a bidi override U+202E", { updatePaths: ["display_name"], displayName: "abc\u202Edef" }, "bidirectional overrides"],
    ["a display name with a control character", { updatePaths: ["display_name"], displayName: "abc\u001bdef" }, "control characters"],
    ["a display name with a zero-width space U+200B", { updatePaths: ["display_name"], displayName: "ali\u200Bce" }, "invisible characters"],
    ["an avatar_ref of 513 characters", { updatePaths: ["avatar_ref"], avatarRef: "a".repeat(513) }, AVATAR_RULE],
    ["an avatar_ref with a space", { updatePaths: ["avatar_ref"], avatarRef: "blob 1" }, AVATAR_RULE],
    ["an avatar_ref with a non-ASCII character", { updatePaths: ["avatar_ref"], avatarRef: "blob:é" }, AVATAR_RULE],
    [
      "encrypted_settings of 65537 bytes",
      { updatePaths: ["encrypted_settings"], encryptedSettings: new Uint8Array(65_537) },
      "encrypted_settings must be at most 65536 bytes, got 65537",
    ],
  ])("%s fails INVALID_ARGUMENT", async (_, req, message) => {
    await expectRpcError(as(user).updateProfile(req), Code.InvalidArgument, message);
  });

  it("the largest values are accepted: 64 code points of name, an avatar attachment, 65536 bytes of settings", async () => {
    const avatar = await uploadAvatar(user);
    const res = await as(user).updateProfile({
      updatePaths: ["display_name", "avatar_ref", "encrypted_settings"],
      displayName: "🙂".repeat(64),
      avatarRef: avatar,
      encryptedSettings: new Uint8Array(65_536).fill(0xab),
    });
    expect(res.profile!.displayName).toBe("🙂".repeat(64));
    expect(res.profile!.avatarRef).toBe(avatar);
    expect(res.encryptedSettings).toHaveLength(65_536);
  });
});

describe("SearchUsers", () => {
  it("orders results by Cyphr ID in byte order (digits, then underscore, then letters)", async () => {
    const prefix = uniquePrefix();
    const users = await registerAll([`${prefix}b_c`, `${prefix}_b`, `${prefix}a`, `${prefix}9`, `${prefix}_a`]);
    const res = await as(users[0]!).searchUsers({ prefix });
    expect(res.profiles.map((p) => p.cyphrId.slice(prefix.length))).toEqual(["9", "_a", "_b", "a", "b_c"]);
  });

  it("keeps byte order when the database's default collation is linguistic (ICU), and pages consistently with it", async () => {
    const icuServer = await startTestServer({ databaseUrl: await createLinguisticCollationDatabase() });
    try {
      const rpc = identityClient("connect", icuServer.baseUrl);
      const prefix = uniquePrefix();
      const ids = [`${prefix}b`, `${prefix}_a`, `${prefix}9`, `${prefix}a`];
      const users = await Promise.all(ids.map((id) => registerUser(rpc, id)));
      for (const u of users)
        await identityClient("connect", icuServer.baseUrl, { token: u.accessToken }).updateProfile(update(["discoverable"], { discoverable: true }));
      const authed = identityClient("connect", icuServer.baseUrl, { token: users[0]!.accessToken });
      const all = await authed.searchUsers({ prefix });
      expect(all.profiles.map((p) => p.cyphrId.slice(prefix.length))).toEqual(["9", "_a", "a", "b"]);
      const first = await authed.searchUsers({ prefix, limit: 2 });
      const second = await authed.searchUsers({ prefix, limit: 2, pageToken: first.nextPageToken });
      expect([...first.profiles, ...second.profiles].map((p) => p.cyphrId.slice(prefix.length))).toEqual(["9", "_a", "a", "b"]);
    } finally {
      await icuServer.close();
    }
  });

  it("treats '_' in the prefix literally, not as a wildcard", async () => {
    const prefix = uniquePrefix();
    const users = await registerAll([`${prefix}_x`, `${prefix}ax`, `${prefix}x_`]);
    const res = await as(users[0]!).searchUsers({ prefix: `${prefix}_` });
    expect(res.profiles.map((p) => p.cyphrId)).toEqual([`${prefix}_x`]);
  });

  it("returns public profiles with display names and keys", async () => {
    const prefix = uniquePrefix();
    const found = await registerUser(anonymous(), `${prefix}_alice`, "Alice");
    const res = await as(found).searchUsers({ prefix });
    expect(res.profiles).toHaveLength(1);
    expect(res.profiles[0]).toMatchObject({ userId: found.userId, cyphrId: found.cyphrId, displayName: "Alice" });
    expect(new Uint8Array(res.profiles[0]!.identityPublicKey)).toEqual(found.device.identityPublicKey);
  });

  it("never returns users with discoverable = false, and returns them again once discoverable", async () => {
    const prefix = uniquePrefix();
    const [shy, open] = await registerAll([`${prefix}_shy`, `${prefix}_open`]);
    await as(shy!).updateProfile(update(["discoverable"], { discoverable: false }));
    expect((await as(open!).searchUsers({ prefix })).profiles.map((p) => p.cyphrId)).toEqual([open!.cyphrId]);
    // A searcher always finds themselves (that reveals nothing), never someone else who is not discoverable.
    expect((await as(shy!).searchUsers({ prefix: shy!.cyphrId })).profiles.map((p) => p.cyphrId)).toEqual([shy!.cyphrId]);

    await as(shy!).updateProfile(update(["discoverable"], { discoverable: true }));
    expect((await as(open!).searchUsers({ prefix })).profiles.map((p) => p.cyphrId)).toEqual([open!.cyphrId, shy!.cyphrId]);
  });

  it("pages with next_page_token until the results are exhausted, each user exactly once, in order", async () => {
    const prefix = uniquePrefix();
    const ids = Array.from({ length: 7 }, (_, i) => `${prefix}_${i}`);
    const users = await registerAll([...ids].reverse());
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const res = await as(users[0]!).searchUsers({ prefix, limit: 3, pageToken });
      pages.push(res.profiles.map((p) => p.cyphrId));
      pageToken = res.nextPageToken;
    } while (pageToken !== "" && pages.length < 10);
    expect(pages).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
  });

  it("gives no next_page_token when the last page is exactly full", async () => {
    const prefix = uniquePrefix();
    const users = await registerAll([`${prefix}_1`, `${prefix}_2`, `${prefix}_3`, `${prefix}_4`]);
    const first = await as(users[0]!).searchUsers({ prefix, limit: 2 });
    expect(first.nextPageToken).not.toBe("");
    const second = await as(users[0]!).searchUsers({ prefix, limit: 2, pageToken: first.nextPageToken });
    expect(second.profiles.map((p) => p.cyphrId)).toEqual([`${prefix}_3`, `${prefix}_4`]);
    expect(second.nextPageToken).toBe("");
  });

  it("returns 20 results per page when limit is 0, and accepts limit 50", async () => {
    const prefix = uniquePrefix();
    const users = await registerAll(Array.from({ length: 21 }, (_, i) => `${prefix}_${String(i).padStart(2, "0")}`));
    const byDefault = await as(users[0]!).searchUsers({ prefix });
    expect(byDefault.profiles).toHaveLength(20);
    expect(byDefault.nextPageToken).not.toBe("");
    const atMost50 = await as(users[0]!).searchUsers({ prefix, limit: 50 });
    expect(atMost50.profiles).toHaveLength(21);
    expect(atMost50.nextPageToken).toBe("");
  });

  const BAD_PAGE_TOKEN = "page_token is not a token returned by SearchUsers";
  it.each([
    ["a limit above 50", { prefix: "ab", limit: 51 }, "limit must be at most 50"],
    ["a prefix of 1 character", { prefix: "a" }, "prefix must be 2-30 characters of [a-z0-9_]"],
    ["an empty prefix", { prefix: "" }, "prefix must be 2-30 characters of [a-z0-9_]"],
    ["a prefix of 31 characters", { prefix: "a".repeat(31) }, "prefix must be 2-30 characters of [a-z0-9_]"],
    ["a prefix with upper case", { prefix: "AB" }, "prefix must be 2-30 characters of [a-z0-9_]"],
    ["a prefix with a LIKE wildcard", { prefix: "a%" }, "prefix must be 2-30 characters of [a-z0-9_]"],
    ["a page_token that is not base64 of a cursor", { prefix: "ab", pageToken: "not a token!" }, BAD_PAGE_TOKEN],
    ["a page_token of a forged cursor", { prefix: "ab", pageToken: Buffer.from("u1:NOT VALID").toString("base64url") }, BAD_PAGE_TOKEN],
  ])("%s fails INVALID_ARGUMENT", async (_, req, message) => {
    const user = await registerUser(anonymous(), uniqueCyphrId("searcher"));
    await expectRpcError(as(user).searchUsers(req), Code.InvalidArgument, message);
  });
});
