import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachmentsService } from "../src/gen/cyphr/attachments/v1/attachments_pb.js";
import { sha256, uploadBytes } from "./helpers/attachments.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findEverywhere } from "./helpers/db-scan.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const newUser = () => registerUser(identityClient("connect", server.baseUrl));
const files = (user: RegisteredUser) => clientFor(AttachmentsService, "connect", server.baseUrl, { token: user.accessToken });
const profiles = (user: RegisteredUser) => identityClient("connect", server.baseUrl, { token: user.accessToken });
const setAvatar = (user: RegisteredUser, avatarRef: string) => profiles(user).updateProfile({ updatePaths: ["avatar_ref"], avatarRef });
const purge = async (now = new Date()) => {
  await server.app.jobs.run("attachments.expired", now);
  await server.app.jobs.run("attachments.bytes");
};

describe("avatars are attachments", () => {
  it("accepts only one of the caller's own live attachments as avatar_ref", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const bobs = await uploadBytes(files(bob), new Uint8Array(randomBytes(500)));
    const rule = "avatar_ref must be the attachment_id of one of your own live attachments";
    await expectRpcError(setAvatar(alice, bobs), Code.InvalidArgument, rule);
    await expectRpcError(setAvatar(alice, "blob:7f3a"), Code.InvalidArgument, rule);
    await expectRpcError(setAvatar(alice, "0123abcd-0000-0000-0000-000000000000"), Code.InvalidArgument, rule);
    const { uploadId } = await files(alice).createUpload({ size: 10n, sha256: sha256(new Uint8Array(10)), chunkSize: 65_536 });
    await expectRpcError(setAvatar(alice, uploadId), Code.InvalidArgument, rule);

    const own = await uploadBytes(files(alice), new Uint8Array(randomBytes(500)));
    const res = await setAvatar(alice, own.toUpperCase());
    expect(res.profile!.avatarRef).toBe(own);
    const { profile } = await identityClient("connect", server.baseUrl).getProfile({ cyphrId: alice.cyphrId });
    expect(profile!.avatarRef).toBe(own);
  });

  it("keeps the avatar past its expiry while it is the avatar, refuses to delete it, and lets it expire once replaced", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const bytes = new Uint8Array(randomBytes(2000));
    const avatar = await uploadBytes(files(alice), bytes, { expiresInSeconds: 1 });
    await setAvatar(alice, avatar);
    // Wait until its one-second lifetime has passed on the database's clock, then purge as if a year had gone too.
    await expect
      .poll(() => server.app.pool.oneFirst(sql.unsafe`SELECT expires_at < now() FROM attachments WHERE attachment_id = ${avatar}`), {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(true);
    await purge(new Date(Date.now() + 400 * 86_400_000));
    const kept = await files(bob).readAttachment({ attachmentId: avatar, offset: 0n, length: 2000 });
    expect(Buffer.from(kept.data).equals(Buffer.from(bytes))).toBe(true);
    await expectRpcError(files(alice).deleteAttachment({ id: avatar }), Code.FailedPrecondition, "this attachment is your avatar");

    await setAvatar(alice, "");
    await expectRpcError(files(bob).readAttachment({ attachmentId: avatar, offset: 0n, length: 10 }), Code.NotFound, "no such attachment");
    await purge();
    expect(await findEverywhere(server.databaseUrl, bytes.subarray(100, 132))).toEqual([]);
  });

  it("deleting an account deletes its attachments (ON DELETE CASCADE) and the purge job removes their bytes", async () => {
    const carol = await newUser();
    const bytes = new Uint8Array(randomBytes(70_000));
    const attachmentId = await uploadBytes(files(carol), bytes);
    await setAvatar(carol, attachmentId);
    await server.app.pool.query(sql.unsafe`DELETE FROM identities WHERE id = ${carol.userId}`);
    const bob = await newUser();
    await expectRpcError(files(bob).readAttachment({ attachmentId, offset: 0n, length: 10 }), Code.NotFound, "no such attachment");
    expect((await findEverywhere(server.databaseUrl, bytes.subarray(0, 32))).map((h) => h.table)).toEqual(["public.attachment_blob_parts"]);
    await purge();
    expect(await findEverywhere(server.databaseUrl, bytes.subarray(0, 32))).toEqual([]);
  });
});
