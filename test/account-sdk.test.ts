import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Account, CyphrError, MemoryStore, newRecoveryPhrase, recoverAccount, type Store } from "../src/sdk/index.js";
import { type NodeProtocol, nodeTransport } from "../src/sdk/node/transport.js";
import { totpCode } from "./helpers/account.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { uniqueCyphrId } from "./helpers/users.js";

/** The SDK's account lifecycle against a real server: phrase, PIN, TOTP, sessions, recovery, export, deletion. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: { PIN_ARGON2_MEMORY_KIB: "1024", PIN_ARGON2_TIME_COST: "1", RATE_LIMIT_RECOVERY: "100/100", RATE_LIMIT_RECOVERY_ACCOUNT: "100/100" },
  });
});
afterAll(() => server.close());

const options = (store: Store = new MemoryStore(), protocol: NodeProtocol = "connect") => ({ transport: nodeTransport(server.baseUrl, protocol), store });

async function caught(promise: Promise<unknown>): Promise<CyphrError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CyphrError);
  return error as CyphrError;
}

describe.each(["connect", "grpc", "grpc-web"] as const)("SDK account lifecycle over %s", (protocol) => {
  it("sets a recovery phrase and a PIN, recovers on a new device with both, and the old device is signed out", async () => {
    const cyphrId = uniqueCyphrId("sdk");
    const phone = await Account.register(options(new MemoryStore(), protocol), cyphrId);
    const phrase = newRecoveryPhrase();
    await phone.lifecycle().setRecoveryPhrase(phrase);
    await phone.lifecycle().setPin("2468");

    const wrongPin = await caught(recoverAccount(options(new MemoryStore(), protocol), cyphrId, phrase, { pin: "1111" }));
    expect(wrongPin.code).toBe("unauthenticated");
    const laptop = await recoverAccount(options(new MemoryStore(), protocol), cyphrId, phrase, { pin: "2468", deviceName: "laptop" });
    expect(laptop.userId).toBe(phone.userId);
    expect(laptop.identityPublicKey).not.toEqual(phone.identityPublicKey);
    const devices = await laptop.listDevices();
    expect(devices.devices.map((d) => [d.deviceId, d.name, d.current])).toEqual([[2, "laptop", true]]);
    expect((await caught(phone.lifecycle().listSessions())).code).toBe("unauthenticated");
    // The recovered device is a full account: it can set a new phrase.
    await laptop.lifecycle().setRecoveryPhrase(newRecoveryPhrase());
  });

  it("turns TOTP on with a code from the otpauth secret; login then needs a code; sessions can be listed and revoked", async () => {
    const store = new MemoryStore();
    const alice = await Account.register(options(store, protocol), uniqueCyphrId("sdk"));
    expect((await alice.lifecycle().securitySettings()).totp).toEqual({ state: "off", lockedUntil: undefined });
    const { secret, otpauthUri } = await alice.lifecycle().enableTotp();
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect((await alice.lifecycle().securitySettings()).totp.state).toBe("pending");
    await alice.lifecycle().confirmTotp(totpCode(secret, Date.now()));
    const midnight = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    expect(await alice.lifecycle().securitySettings()).toEqual({
      recoveryKey: { set: false },
      pin: { set: false },
      totp: { state: "on", enabledDate: midnight, lockedUntil: undefined },
    });
    const second = await Account.open(options(await copyOf(store), protocol));
    const required = await caught(second.login());
    expect([required.code, required.reason, required.message]).toEqual(["unauthenticated", "TOTP_REQUIRED", "a TOTP code is required"]);
    const wrong = await caught(second.login({ totpCode: "000000" }));
    expect([wrong.code, wrong.reason]).toEqual(["unauthenticated", "TOTP_INVALID"]);
    // A refusal without a structured reason has none.
    expect((await caught(Account.register(options(new MemoryStore(), protocol), alice.cyphrId))).reason).toBeUndefined();
    // The confirming code was used; the next step's code is valid now (window ±1 step).
    await second.login({ totpCode: totpCode(secret, Date.now() + 30_000) });
    const sessions = await alice.lifecycle().listSessions();
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(await alice.lifecycle().revokeOtherSessions()).toBe(1);
    expect((await caught(second.lifecycle().listSessions())).code).toBe("unauthenticated");
  });

  it("exports the account's data and deletes the account", async () => {
    const alice = await Account.register(options(new MemoryStore(), protocol), uniqueCyphrId("sdk"));
    const data = await alice.lifecycle().exportData();
    expect(data.identities).toMatchObject({ id: alice.userId, cyphr_id: alice.cyphrId });
    const { cyphrIdAvailableAt } = await alice.lifecycle().deleteAccount();
    expect(cyphrIdAvailableAt!.getTime()).toBeGreaterThan(Date.now());
    expect((await caught(alice.login())).code).toBe("unauthenticated");
  });
});

describe("SDK recovery refusals", () => {
  it("a mistyped phrase is refused before anything is sent; a profile that holds an account cannot receive one", async () => {
    const store = new MemoryStore();
    const alice = await Account.register(options(store), uniqueCyphrId("sdk"));
    expect((await caught(recoverAccount(options(), alice.cyphrId, "not a phrase"))).code).toBe("invalid_argument");
    expect((await caught(recoverAccount(options(store), alice.cyphrId, newRecoveryPhrase()))).code).toBe("already_exists");
    // A valid phrase that is not the account's answers like any failure.
    expect((await caught(recoverAccount(options(), alice.cyphrId, newRecoveryPhrase()))).message).toContain("account recovery failed");
  });
});

async function copyOf(store: Store): Promise<MemoryStore> {
  const copy = new MemoryStore();
  for (const key of await store.keys("")) await copy.set(key, (await store.get(key))!);
  return copy;
}
