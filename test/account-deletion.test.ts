import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AccountService } from "../src/gen/cyphr/account/v1/account_pb.js";
import { UnavailableReason } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { ChatRole } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { accountClient, deleteAccountRequest, newRecoveryKey, randomNonce, setRecoveryKeyRequest, totpCode } from "./helpers/account.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { linkDevice } from "./helpers/devices.js";
import { codeName } from "./helpers/inbox.js";
import { createGroupOf, fullHistory, type Participant, participants, sendInChat, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { newDevice, type RegisteredUser, registerRequest } from "./helpers/users.js";
import { WIRES } from "./helpers/wires.js";

/** DeleteAccount: what goes, what stays as tombstones, the quarantine, and a scan of every table. */

const ROOMY = {
  DEVICE_LINK_BEGIN_BURST: "1000",
  DEVICE_LINK_BEGIN_PER_MINUTE: "1000",
  DEVICE_LINKS_PENDING_PER_SOURCE: "1000",
  PIN_ARGON2_MEMORY_KIB: "1024",
  PIN_ARGON2_TIME_COST: "1",
};
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: ROOMY });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

async function deleteAccount(user: RegisteredUser) {
  const account = accountClient(server.baseUrl, user);
  const { nonce } = await account.createDeletionChallenge({});
  return account.deleteAccount(deleteAccountRequest(user, nonce));
}

describe.each(WIRES)("DeleteAccount over $name", (wire) => {
  it("needs a fresh nonce signed by the identity key: a wrong signature, a foreign or reused nonce is PERMISSION_DENIED and nothing is deleted; then deletes", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const account = clientFor(AccountService, wire.protocol, server.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    const { nonce } = await account.createDeletionChallenge({});
    const wrong = deleteAccountRequest({ ...alice, device: bob.device }, nonce);
    await expectRpcError(account.deleteAccount(wrong), Code.PermissionDenied, "deletion signature or nonce is not valid");
    // That nonce is spent now, even signed properly.
    await expectRpcError(account.deleteAccount(deleteAccountRequest(alice, nonce)), Code.PermissionDenied, "deletion signature or nonce is not valid");
    await expectRpcError(account.deleteAccount(deleteAccountRequest(alice, randomNonce())), Code.PermissionDenied, "deletion signature or nonce is not valid");
    const { nonce: bobs } = await accountClient(server.baseUrl, bob).createDeletionChallenge({});
    await expectRpcError(account.deleteAccount(deleteAccountRequest(alice, bobs)), Code.PermissionDenied, "deletion signature or nonce is not valid");
    await expectRpcError(
      account.deleteAccount({ nonce: new Uint8Array(3), signature: new Uint8Array(64) }),
      Code.InvalidArgument,
      "nonce must be 32 bytes, got 3",
    );
    expect((await account.listSessions({})).sessions).toHaveLength(1);
    const { nonce: fresh } = await account.createDeletionChallenge({});
    await account.deleteAccount(deleteAccountRequest(alice, fresh));
    await expectRpcError(account.listSessions({}), Code.Unauthenticated, "session has been revoked");
  });
});

describe("DeleteAccount", () => {
  it("leaves no row naming the account in any table, keeps its messages in others' histories as tombstones, hands groups over and ends its streams", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const phone = await linkDevice(server.baseUrl, alice);
    // Everything an account can have: a PIN, TOTP, a recovery key, key packages, receipts, queued events.
    const account = accountClient(server.baseUrl, alice);
    await account.setPin({ pin: "2468" });
    const { secret } = await account.enableTotp({});
    await account.confirmTotp({ code: totpCode(secret, Date.now()) });
    await account.setRecoveryKey(setRecoveryKeyRequest(alice, newRecoveryKey().publicKey));
    await queryDatabase(
      server.databaseUrl,
      `INSERT INTO key_packages (user_id, device_id, ciphersuite, ref, key_package, last_resort, not_after)
       VALUES ($1, 1, 82, decode(md5(random()::text), 'hex') || decode(md5(random()::text), 'hex'), '\\x00', false, 4102444800)`,
      [alice.userId],
    );
    const fromAlice = await sendTo(alice, bob as Participant);
    const fromBob = await sendTo(bob, alice as Participant);
    await alice.messaging.markRead({ chatId: fromBob.chatId, upToSeq: fromBob.seq });
    // Alice is the only admin of a group with Bob (joined first) and Carol, and alone in another.
    const group = await createGroupOf(alice, [bob]);
    // Carol joins later, so Bob is the longest-standing member (one CreateGroup gives both the same joined_at).
    await alice.groups.addMember({ chatId: group, cyphrId: carol.cyphrId });
    const inGroup = await sendInChat(alice, group);
    const lonely = await createGroupOf(alice, []);
    const aliceLive = subscribe(server.baseUrl, phone.accessToken, { resumeCursor: 0 });
    const bobLive = subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await aliceLive.caughtUp();
    await bobLive.caughtUp();

    const { cyphrIdAvailableAt } = await deleteAccount(alice);
    expect(Number(cyphrIdAvailableAt!.seconds) * 1000 - Date.now()).toBeGreaterThan(29.9 * 86_400_000);

    expect(codeName((await aliceLive.end(1000)).code)).toBe("UNAUTHENTICATED");
    await expectRpcError(accountClient(server.baseUrl, phone).listSessions({}), Code.Unauthenticated, "session has been revoked");

    // No column of any table holds the account's id, Cyphr ID or any of its keys.
    const needles = [alice.userId, alice.cyphrId].map((t) => new TextEncoder().encode(t));
    needles.push(
      ...[alice.device.identityPublicKey, alice.device.mlKemPublicKey, alice.device.deviceSigningKey, phone.device.deviceSigningKey].map(
        (k) => new Uint8Array(k),
      ),
    );
    expect(await findAllEverywhere(server.databaseUrl, needles)).toEqual([]);

    // Bob still has the direct chat: Alice's message is a tombstone without ciphertext under an id that names nobody.
    const direct = await fullHistory(bob as Participant, fromAlice.chatId);
    const tombstone = direct.find((m) => m.messageId === fromAlice.messageId)!;
    expect(tombstone.deleted).toBe(true);
    expect(tombstone.payload?.ciphertext ?? new Uint8Array(0)).toHaveLength(0);
    expect(tombstone.senderUserId).not.toBe(alice.userId);
    expect(tombstone.senderCyphrId).toBe("");
    expect(direct.find((m) => m.messageId === fromBob.messageId)!.deleted).toBe(false);

    // The group goes on with Bob as admin (the longest-standing member) and a "member left" record.
    const { group: after } = await bob.groups.getGroup({ chatId: group });
    expect(after!.myRole).toBe(ChatRole.ADMIN);
    expect(after!.memberCount).toBe(2);
    const groupHistory = await fullHistory(carol as Participant, group);
    expect(groupHistory.find((m) => m.messageId === inGroup.messageId)!.deleted).toBe(true);
    await bobLive.take("groupChanged");
    // The group only Alice was in is gone.
    expect(await queryDatabase(server.databaseUrl, "SELECT 1 FROM chats WHERE id = $1", [lonely])).toHaveLength(0);
  });

  it("quarantines the Cyphr ID: CheckAvailability says QUARANTINED and Register is ALREADY_EXISTS until it ends", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    await deleteAccount(alice);
    const identity = identityClient("connect", server.baseUrl);
    const availability = await identity.checkAvailability({ cyphrId: alice.cyphrId });
    expect(availability).toMatchObject({ available: false, reason: UnavailableReason.QUARANTINED });
    await expectRpcError(
      identity.register(registerRequest(newDevice(), alice.cyphrId)),
      Code.AlreadyExists,
      "belonged to a deleted account; it can be registered from",
    );
    // Once the quarantine has passed, the id is free again.
    await queryDatabase(server.databaseUrl, "UPDATE quarantined_cyphr_ids SET until = now() - interval '1 second'");
    expect((await identity.checkAvailability({ cyphrId: alice.cyphrId })).available).toBe(true);
    await identity.register(registerRequest(newDevice(), alice.cyphrId));
  });
});
