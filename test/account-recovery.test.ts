import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AccountService } from "../src/gen/cyphr/account/v1/account_pb.js";
import { MessagingService } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { accountClient, newRecoveryKey, randomNonce, recoverRequest, setRecoveryKeyRequest } from "./helpers/account.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { devicesClient, linkDevice } from "./helpers/devices.js";
import { codeName } from "./helpers/inbox.js";
import { fullHistory, type Participant, participants, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, grpcJsConnect, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginRequest, type RegisteredUser } from "./helpers/users.js";
import { WIRES } from "./helpers/wires.js";

/** SetRecoveryKey, CreateRecoveryChallenge and RecoverAccount, end to end. */

const CHEAP = { PIN_ARGON2_MEMORY_KIB: "1024", PIN_ARGON2_TIME_COST: "1", RATE_LIMIT_RECOVERY: "1000/1000", RATE_LIMIT_RECOVERY_ACCOUNT: "1000/1000" };
const ROOMY = { DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINK_BEGIN_PER_MINUTE: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "1000" };
const FAILED = "account recovery failed";
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await startTestServer({ env: { ...CHEAP, ...ROOMY } });
  b = await startTestServer({ databaseUrl: a.databaseUrl, dataDir: a.dataDir, env: CHEAP });
});
afterEach(closeAllStreams);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

async function withRecoveryKey(user: RegisteredUser) {
  const key = newRecoveryKey();
  await accountClient(a.baseUrl, user).setRecoveryKey(setRecoveryKeyRequest(user, key.publicKey));
  return key;
}

/** A challenge and a signed RecoverAccount request for a new device. */
async function prepareRecovery(cyphrId: string, recoverySecretKey: Uint8Array, pin = "", server = a) {
  const challenge = await accountClient(server.baseUrl).createRecoveryChallenge({ cyphrId });
  return recoverRequest(cyphrId, recoverySecretKey, challenge, pin);
}

describe.each(WIRES)("SetRecoveryKey over $name", (wire) => {
  it("stores the key signed by the identity key and replaces it; a bad signature or key is refused", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const account = clientFor(AccountService, wire.protocol, a.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    const first = newRecoveryKey();
    const second = newRecoveryKey();
    await expectRpcError(
      account.setRecoveryKey({ recoveryPublicKey: new Uint8Array(31), signature: new Uint8Array(64) }),
      Code.InvalidArgument,
      "recovery_public_key must be 32 bytes, got 31",
    );
    await expectRpcError(
      account.setRecoveryKey({ recoveryPublicKey: first.publicKey, signature: new Uint8Array(63) }),
      Code.InvalidArgument,
      "signature must be 64 bytes, got 63",
    );
    const forged = setRecoveryKeyRequest({ ...alice, device: { ...alice.device, identitySecretKey: second.secretKey } }, first.publicKey);
    await expectRpcError(account.setRecoveryKey(forged), Code.PermissionDenied, "signature does not verify with the identity key");
    await account.setRecoveryKey(setRecoveryKeyRequest(alice, first.publicKey));
    await account.setRecoveryKey(setRecoveryKeyRequest(alice, second.publicKey));
    const rows = await queryDatabase<{ public_key: Buffer }>(a.databaseUrl, "SELECT public_key FROM account_recovery_keys WHERE user_id = $1", [alice.userId]);
    expect(rows.map((r) => Buffer.from(r.public_key).toString("hex"))).toEqual([Buffer.from(second.publicKey).toString("hex")]);
  });

  it("RecoverAccount works over this wire and answers every credential failure the same way", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const key = await withRecoveryKey(alice);
    const account = clientFor(AccountService, wire.protocol, a.baseUrl, { httpVersion: wire.httpVersion });
    const other = newRecoveryKey();
    const wrongSignature = await prepareRecovery(alice.cyphrId, other.secretKey);
    await expectRpcError(account.recoverAccount(wrongSignature.request), Code.Unauthenticated, FAILED);
    const unknown = await prepareRecovery(`nobody_${alice.cyphrId.slice(-10)}`, key.secretKey);
    await expectRpcError(account.recoverAccount(unknown.request), Code.Unauthenticated, FAILED);
    const foreignNonce = recoverRequest(alice.cyphrId, key.secretKey, { nonce: randomNonce(), deviceId: 2 });
    await expectRpcError(account.recoverAccount(foreignNonce.request), Code.Unauthenticated, FAILED);
    const good = await prepareRecovery(alice.cyphrId, key.secretKey);
    const recovered = await account.recoverAccount(good.request);
    expect(recovered.userId).toBe(alice.userId);
    expect(recovered.deviceId).toBe(2);
    // The nonce was spent.
    await expectRpcError(account.recoverAccount(good.request), Code.Unauthenticated, FAILED);
  });
});

describe("RecoverAccount", () => {
  it("rotates the keys, removes every device, session and key package, keeps chats, and tells peers live and on replay", async () => {
    const [alice, bob, stranger] = await participants(a.baseUrl, 3);
    const phone = await linkDevice(a.baseUrl, alice);
    const sent = await sendTo(bob, alice as Participant);
    await queryDatabase(
      a.databaseUrl,
      `INSERT INTO key_packages (user_id, device_id, ciphersuite, ref, key_package, last_resort, not_after)
       VALUES ($1, 1, 82, decode(md5(random()::text), 'hex') || decode(md5(random()::text), 'hex'), '\\x00', false, 4102444800)`,
      [alice.userId],
    );
    const key = await withRecoveryKey(alice);
    const bobLive = subscribe(b.baseUrl, bob.accessToken, { resumeCursor: 0 });
    const strangerLive = subscribe(a.baseUrl, stranger.accessToken, { resumeCursor: 0 });
    const aliceOld = grpcJsConnect(b.baseUrl, alice.accessToken, { resumeCursor: 0 });
    const phoneOld = subscribe(a.baseUrl, phone.accessToken, { resumeCursor: 0 });
    const bobCursor = await bobLive.caughtUp();
    for (const stream of [strangerLive, aliceOld, phoneOld]) await stream.caughtUp();

    const { request, device } = await prepareRecovery(alice.cyphrId, key.secretKey);
    expect(request.deviceCertificate).toHaveLength(64);
    const recovered = await accountClient(a.baseUrl).recoverAccount(request);
    expect(recovered.deviceId).toBe(3);

    // Old devices' streams end at once on both instances, their tokens are dead.
    for (const stream of [aliceOld, phoneOld]) expect(codeName((await stream.end(1000)).code)).toBe("UNAUTHENTICATED");
    for (const old of [alice, phone]) {
      await expectRpcError(accountClient(b.baseUrl, old).listSessions({}), Code.Unauthenticated, "session has been revoked");
      await expectRpcError(identityClient("connect", a.baseUrl).refreshSession({ refreshToken: old.refreshToken }), Code.Unauthenticated, "");
    }
    const { nonce } = await identityClient("connect", a.baseUrl).createChallenge({ cyphrId: alice.cyphrId });
    await expectRpcError(
      identityClient("connect", a.baseUrl).login(loginRequest(alice.device, alice.cyphrId, nonce)),
      Code.Unauthenticated,
      "invalid login credentials",
    );

    // The peer sees identity_changed live; someone who shares no chat does not.
    const { value } = await bobLive.take("identityChanged");
    expect(value.userId).toBe(alice.userId);
    expect(value.cyphrId).toBe(alice.cyphrId);
    expect(Buffer.from(value.identityPublicKey).equals(Buffer.from(device.identityPublicKey))).toBe(true);
    expect(await strangerLive.quiet("identityChanged", 300)).toEqual([]);
    // And on replay.
    const bobLater = subscribe(a.baseUrl, bob.accessToken, { resumeCursor: bobCursor });
    await bobLater.caughtUp();
    expect(bobLater.all("identityChanged").map(({ value: v }) => v.userId)).toEqual([alice.userId]);

    // New keys are published, the device list is just the new device, key packages are gone.
    const profile = await identityClient("connect", a.baseUrl).getProfile({ cyphrId: alice.cyphrId });
    expect(Buffer.from(profile.profile!.identityPublicKey).equals(Buffer.from(device.identityPublicKey))).toBe(true);
    const fresh = { accessToken: recovered.session!.accessToken };
    const listed = await devicesClient("connect", a.baseUrl, { token: fresh.accessToken }).listDevices({ cyphrId: alice.cyphrId });
    expect(listed.devices.map((d) => d.deviceId)).toEqual([3]);
    expect(listed.nextDeviceId).toBe(4);
    const packages = await queryDatabase(a.databaseUrl, "SELECT 1 FROM key_packages WHERE user_id = $1", [alice.userId]);
    expect(packages).toHaveLength(0);

    // Chats and memberships stay: the new device sees the chat with Bob and its history.
    const messaging = clientFor(MessagingService, "connect", a.baseUrl, { token: fresh.accessToken });
    const { chats } = await messaging.listChats({ limit: 10 });
    expect(chats.map((c) => c.chatId)).toEqual([sent.chatId]);
    const history = await fullHistory({ ...alice, messaging } as Participant, sent.chatId);
    expect(history.map((m) => m.messageId)).toContain(sent.messageId);
  });

  it("with a PIN set, a missing or wrong PIN answers like a wrong signature, counts toward the lock, and the right PIN recovers", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const key = await withRecoveryKey(alice);
    await accountClient(a.baseUrl, alice).setPin({ pin: "8642" });
    const account = accountClient(a.baseUrl);
    await expectRpcError(account.recoverAccount((await prepareRecovery(alice.cyphrId, key.secretKey)).request), Code.Unauthenticated, FAILED);
    await expectRpcError(account.recoverAccount((await prepareRecovery(alice.cyphrId, key.secretKey, "0000")).request), Code.Unauthenticated, FAILED);
    const [row] = await queryDatabase<{ failures: number }>(a.databaseUrl, "SELECT failures FROM account_attempts WHERE user_id = $1 AND factor = 'pin'", [
      alice.userId,
    ]);
    expect(row!.failures).toBe(1);
    const recovered = await account.recoverAccount((await prepareRecovery(alice.cyphrId, key.secretKey, "8642")).request);
    expect(recovered.userId).toBe(alice.userId);
  });

  it("five wrong PINs lock recovery (RESOURCE_EXHAUSTED with retry-after) even with the right PIN, for the key holder only", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const key = await withRecoveryKey(alice);
    await accountClient(a.baseUrl, alice).setPin({ pin: "8642" });
    const account = accountClient(a.baseUrl);
    for (let i = 0; i < 5; i++) {
      await expectRpcError(account.recoverAccount((await prepareRecovery(alice.cyphrId, key.secretKey, `000${i}`)).request), Code.Unauthenticated, FAILED);
    }
    await expectRpcError(
      account.recoverAccount((await prepareRecovery(alice.cyphrId, key.secretKey, "8642")).request),
      Code.ResourceExhausted,
      "too many wrong PIN attempts",
    );
    // Without the recovery key nobody learns about the lock.
    await expectRpcError(
      account.recoverAccount((await prepareRecovery(alice.cyphrId, newRecoveryKey().secretKey, "8642")).request),
      Code.Unauthenticated,
      FAILED,
    );
  });

  it("a PIN hashed with lower argon2 costs is re-hashed with the configured ones by a successful recovery", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const key = await withRecoveryKey(alice);
    await accountClient(a.baseUrl, alice).setPin({ pin: "8642" });
    const stronger = await startTestServer({
      databaseUrl: a.databaseUrl,
      dataDir: a.dataDir,
      env: { ...CHEAP, PIN_ARGON2_MEMORY_KIB: "2048", PIN_ARGON2_TIME_COST: "2" },
    });
    try {
      await accountClient(stronger.baseUrl).recoverAccount((await prepareRecovery(alice.cyphrId, key.secretKey, "8642", stronger)).request);
      const [row] = await queryDatabase<{ pin_hash: string }>(a.databaseUrl, "SELECT pin_hash FROM account_pins WHERE user_id = $1", [alice.userId]);
      expect(row!.pin_hash).toMatch(/^\$argon2id\$v=19\$m=2048,p=1,t=2\$/);
    } finally {
      await stronger.close();
    }
  });

  it("malformed fields are INVALID_ARGUMENT naming the field; an account without a recovery key cannot be recovered", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const account = accountClient(a.baseUrl);
    const { request } = await prepareRecovery(alice.cyphrId, newRecoveryKey().secretKey);
    await expectRpcError(account.recoverAccount({ ...request, nonce: new Uint8Array(5) }), Code.InvalidArgument, "nonce must be 32 bytes, got 5");
    await expectRpcError(
      account.recoverAccount({ ...request, mlKemPublicKey: new Uint8Array(10) }),
      Code.InvalidArgument,
      "ml_kem_public_key must be 1568 bytes",
    );
    await expectRpcError(account.recoverAccount({ ...request, deviceSigningKey: new Uint8Array(32) }), Code.InvalidArgument, "device_signing_key");
    await expectRpcError(account.recoverAccount({ ...request, cyphrId: "NO" }), Code.InvalidArgument, "cyphr_id must match");
    await expectRpcError(account.recoverAccount(request), Code.Unauthenticated, FAILED);
    await expectRpcError(account.createRecoveryChallenge({ cyphrId: "x" }), Code.InvalidArgument, "cyphr_id must match");
  });

  it("is rate-limited per source address across instances (RESOURCE_EXHAUSTED with retry-after)", async () => {
    // Two instances on a database of their own, so no other test's tries are in the buckets.
    const one = await startTestServer({ env: { RATE_LIMIT_RECOVERY: "1/2" } });
    const two = await startTestServer({ databaseUrl: one.databaseUrl, dataDir: one.dataDir, env: { RATE_LIMIT_RECOVERY: "1/2" } });
    try {
      await accountClient(one.baseUrl).createRecoveryChallenge({ cyphrId: "somebody" });
      // RecoverAccount spends the same per-source bucket, on the other instance.
      await expectRpcError(
        accountClient(two.baseUrl).recoverAccount(recoverRequest("somebody", newRecoveryKey().secretKey, { nonce: randomNonce(), deviceId: 1 }).request),
        Code.Unauthenticated,
        FAILED,
      );
      const error = await expectRpcError(
        accountClient(one.baseUrl).createRecoveryChallenge({ cyphrId: "somebody_else" }),
        Code.ResourceExhausted,
        /^recovery rate limit exceeded; retry in \d+ ms$/,
      );
      expect(Number(error.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
    } finally {
      await two.close();
      await one.close();
    }
  });

  it("is rate-limited per account across instances, whatever the source; wrong signature, wrong PIN and unknown id each cost one try", async () => {
    const env = { RATE_LIMIT_RECOVERY_ACCOUNT: "1/3", DEVICE_LINK_SOURCE: "last-forwarded-for" };
    const one = await startTestServer({ env });
    const two = await startTestServer({ databaseUrl: one.databaseUrl, dataDir: one.dataDir, env });
    try {
      // Each attempt comes from another address (as Envoy reports it), so only the per-account bucket fills.
      let address = 0;
      const from = (server: TestServer) =>
        createClient(
          AccountService,
          createConnectTransport({
            baseUrl: server.baseUrl,
            httpVersion: "2",
            interceptors: [(next) => (req) => (req.header.set("x-forwarded-for", `198.51.100.${++address}`), next(req))],
          }),
        );
      const [alice] = await participants(one.baseUrl, 1);
      const key = newRecoveryKey();
      await accountClient(one.baseUrl, alice).setRecoveryKey(setRecoveryKeyRequest(alice, key.publicKey));
      await accountClient(one.baseUrl, alice).setPin({ pin: "8642" });
      const attempt = async (server: TestServer, cyphrId: string, secretKey: Uint8Array, pin: string) => {
        const client = from(server);
        return client.recoverAccount(recoverRequest(cyphrId, secretKey, await client.createRecoveryChallenge({ cyphrId }), pin).request);
      };
      const tries = (cyphrId: string) => [
        () => attempt(one, cyphrId, newRecoveryKey().secretKey, "8642"), // wrong signature
        () => attempt(two, cyphrId, key.secretKey, "0000"), // wrong PIN
        () => attempt(one, cyphrId, key.secretKey, ""), // no PIN
      ];
      for (const cyphrId of [alice.cyphrId, "nobody_at_all"]) {
        for (const attemptOnce of tries(cyphrId)) await expectRpcError(attemptOnce(), Code.Unauthenticated, FAILED);
        // The fourth try is refused before it is looked at, even with the right key and PIN, on either instance.
        const error = await expectRpcError(
          attempt(two, cyphrId, key.secretKey, "8642"),
          Code.ResourceExhausted,
          /^recovery_account rate limit exceeded; retry in \d+ ms$/,
        );
        expect(Number(error.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
      }
    } finally {
      await two.close();
      await one.close();
    }
  });
});
