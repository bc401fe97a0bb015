import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Account, CyphrError, MemoryStore, type Store } from "../src/sdk/index.js";
import { loadAccountKeys, loadDeviceKeys } from "../src/sdk/keys.js";
import { FileStore } from "../src/sdk/node/file-store.js";
import { type NodeProtocol, nodeTransport } from "../src/sdk/node/transport.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { uniqueCyphrId } from "./helpers/users.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { ACCESS_TOKEN_TTL_SECONDS: "30", DEVICE_LINK_BEGIN_BURST: "100", DEVICE_LINK_BEGIN_PER_MINUTE: "100", DEVICE_LINKS_PENDING_PER_SOURCE: "100" },
  });
});
afterAll(async () => {
  await server?.close();
});

function options(store: Store = new MemoryStore(), protocol: NodeProtocol = "connect", clock?: () => number) {
  return { transport: nodeTransport(server.baseUrl, protocol), store, clock };
}

async function copyOf(store: Store): Promise<MemoryStore> {
  const copy = new MemoryStore();
  for (const key of await store.keys("")) await copy.set(key, (await store.get(key))!);
  return copy;
}

/** The refresh token the store holds now: it changes on every refresh (access tokens issued within one second may be equal). */
async function refreshTokenIn(store: Store): Promise<string | undefined> {
  const bytes = await store.get("device/session");
  return bytes && (JSON.parse(new TextDecoder().decode(bytes)) as { refreshToken: string }).refreshToken;
}

async function caught(promise: Promise<unknown>): Promise<CyphrError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CyphrError);
  return error as CyphrError;
}

describe("SDK Account: register, login, devices", () => {
  it("registers device 1, logs in again with the device key, and lists it with a verified certificate and its name", async () => {
    const store = new MemoryStore();
    const alice = await Account.register(options(store), uniqueCyphrId("alice"), { deviceName: "Alice's phone" });
    expect(alice.deviceId).toBe(1);
    const first = await alice.accessToken();
    const reopened = await Account.open(options(store));
    await reopened.login();
    expect(await reopened.accessToken()).not.toBe(first);

    const list = await reopened.listDevices();
    expect(list.rejected).toEqual([]);
    expect(list.devices.map((d) => [d.deviceId, d.name, d.current])).toEqual([[1, "Alice's phone", true]]);
    expect(list.identityPublicKey).toEqual(alice.identityPublicKey);
  });

  it("keeps the account in a passphrase-encrypted profile folder: reopened in a new process it logs in; no key is readable on disk", async () => {
    const folder = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-sdk-profile-")), "alice");
    const kdf = { memoryCost: 8_192, timeCost: 1, parallelism: 1 };
    const alice = await Account.register(options(await FileStore.open(folder, "s3cret", { kdf })), uniqueCyphrId("file"));
    const reopenedStore = await FileStore.open(folder, "s3cret");
    const again = await Account.open(options(reopenedStore));
    expect([again.cyphrId, again.deviceId]).toEqual([alice.cyphrId, 1]);
    await again.login();
    expect((await again.listDevices()).devices).toHaveLength(1);

    const keys = await loadAccountKeys(reopenedStore);
    const secrets = [keys.identitySecretKey, (await loadDeviceKeys(reopenedStore)).signingSecretKey].map((k) => Buffer.from(k));
    for (const file of await fs.readdir(folder)) {
      const bytes = await fs.readFile(path.join(folder, file));
      for (const secret of secrets) {
        expect(bytes.includes(secret)).toBe(false);
        expect(bytes.includes(Buffer.from(secret.toString("hex")))).toBe(false);
      }
      expect(bytes.includes(Buffer.from(alice.cyphrId))).toBe(false);
    }
    expect((await caught(FileStore.open(folder, "wrong"))).code).toBe("unauthenticated");
  });

  it("refreshes the access token before it expires (30 s lifetime: after half of it), once for many concurrent callers", async () => {
    let now = Date.now();
    const store = new MemoryStore();
    const alice = await Account.register(
      options(store, "connect", () => now),
      uniqueCyphrId("refresh"),
    );
    await alice.accessToken();
    const first = await refreshTokenIn(store);
    now += 10_000;
    await alice.accessToken();
    expect(await refreshTokenIn(store)).toBe(first);
    now += 6_000;
    const tokens = await Promise.all(Array.from({ length: 8 }, () => alice.accessToken()));
    expect(new Set(tokens).size).toBe(1);
    const second = await refreshTokenIn(store);
    expect(second).not.toBe(first);
    // The refreshed token works, and the session carried on (a second refresh during the burst would have ended it).
    expect((await alice.listDevices()).devices).toHaveLength(1);
    now += 16_000;
    await alice.accessToken();
    expect(await refreshTokenIn(store)).not.toBe(second);
    expect((await alice.listDevices()).devices).toHaveLength(1);
  });

  it("reports a reused (already rotated) refresh token as a typed unauthenticated error that says to log in again", async () => {
    let now = Date.now();
    const store = new MemoryStore();
    const alice = await Account.register(
      options(store, "connect", () => now),
      uniqueCyphrId("reuse"),
    );
    const stale = await Account.open(options(await copyOf(store), "connect", () => now));
    now += 20_000;
    await alice.accessToken();
    const error = await caught(stale.accessToken());
    expect(error.code).toBe("unauthenticated");
    expect(error.message).toMatch(/log in again/);
    // The stale copy forgot its session: it asks to log in rather than presenting the token again.
    expect((await caught(stale.accessToken())).message).toMatch(/not signed in: log in/);
  });

  it("logs out: the session's token is refused afterwards and the device must log in", async () => {
    const alice = await Account.register(options(), uniqueCyphrId("logout"));
    await alice.logout();
    expect((await caught(alice.listDevices())).code).toBe("unauthenticated");
    await alice.login();
    expect((await alice.listDevices()).devices).toHaveLength(1);
  });

  for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
    it(`links a second device over ${protocol}: code shown, approved by device 1, keys carried end to end, then signed in`, async () => {
      const aliceStore = new MemoryStore();
      const alice = await Account.register(options(aliceStore, protocol), uniqueCyphrId("link"));
      const laptopStore = new MemoryStore();
      const pending = await Account.beginLink(options(laptopStore, protocol));
      expect(pending.code).toMatch(/^cyphr-link-v1\./);
      const waiting = pending.wait();
      expect(await alice.approveLink(pending.code, { deviceName: "laptop" })).toEqual({ deviceId: 2 });
      const laptop = await waiting;

      expect([laptop.cyphrId, laptop.userId, laptop.deviceId]).toEqual([alice.cyphrId, alice.userId, 2]);
      expect(laptop.identityPublicKey).toEqual(alice.identityPublicKey);
      const seen = await laptop.listDevices();
      expect(seen.rejected).toEqual([]);
      expect(seen.devices.map((d) => [d.deviceId, d.name, d.current])).toEqual([
        [1, undefined, false],
        [2, "laptop", true],
      ]);
      // The linked device holds the identity key: it can certify a third device itself.
      const tablet = Account.beginLink(options(new MemoryStore(), protocol));
      const third = await tablet;
      const waitingThird = third.wait();
      await laptop.approveLink(third.code);
      expect((await waitingThird).deviceId).toBe(3);
      expect((await alice.listDevices()).devices.map((d) => d.deviceId)).toEqual([1, 2, 3]);
      // Reopened from its store, the laptop is the same device.
      expect((await Account.open(options(laptopStore, protocol))).deviceId).toBe(2);
    });
  }

  it("renames and removes a device: the removed device's session ends with a typed error", async () => {
    const alice = await Account.register(options(), uniqueCyphrId("remove"));
    const pending = await Account.beginLink(options());
    const waiting = pending.wait();
    await alice.approveLink(pending.code);
    const laptop = await waiting;
    await laptop.renameDevice(2, "work laptop");
    expect((await alice.listDevices()).devices.find((d) => d.deviceId === 2)?.name).toBe("work laptop");

    await alice.removeDevice(2);
    expect((await alice.listDevices()).devices.map((d) => d.deviceId)).toEqual([1]);
    expect((await caught(laptop.listDevices())).code).toBe("unauthenticated");
  });

  it("turns refusals and failures into CyphrError with the gRPC code name and a message a person can act on", async () => {
    const cyphrId = uniqueCyphrId("errors");
    const alice = await Account.register(options(), cyphrId);
    const taken = await caught(Account.register(options(), cyphrId));
    expect(taken.code).toBe("already_exists");
    expect(taken.message).not.toBe("");

    const notACode = await caught(alice.approveLink("hello"));
    expect(notACode.code).toBe("invalid_argument");
    expect(notACode.message).toMatch(/device-link code/);

    const pending = await Account.beginLink(options());
    const forged = pending.code.replace(/\.([0-9a-f]{64})\./, (_, secret: string) => `.${secret.startsWith("0") ? "1" : "0"}${secret.slice(1)}.`);
    expect((await caught(alice.approveLink(forged))).code).toBe("not_found");

    const unreachable = await caught(Account.register({ transport: nodeTransport("http://127.0.0.1:1"), store: new MemoryStore() }, uniqueCyphrId("offline")));
    expect(unreachable.code).toBe("unavailable");
    expect(unreachable.message).toMatch(/Cannot reach the Cyphr server/);

    expect((await caught(Account.open(options()))).code).toBe("failed_precondition");
  });

  it("carries the server's retry-after-ms hint on a rate-limited call", async () => {
    const strict = await startTestServer({ env: { DEVICE_LINK_BEGIN_BURST: "2", DEVICE_LINK_BEGIN_PER_MINUTE: "1", DEVICE_LINKS_PENDING_PER_SOURCE: "100" } });
    try {
      const opts = { transport: nodeTransport(strict.baseUrl), store: new MemoryStore() };
      await Account.beginLink(opts);
      await Account.beginLink(opts);
      const limited = await caught(Account.beginLink(opts));
      expect(limited.code).toBe("resource_exhausted");
      expect(limited.retryAfterMs).toBeGreaterThan(0);
      expect(limited.message).toMatch(/retry later/);
    } finally {
      await strict.close();
    }
  });

  it("never gives the server a private key: the database holds no identity, device or ML-KEM secret", async () => {
    const aliceStore = new MemoryStore();
    const laptopStore = new MemoryStore();
    const alice = await Account.register(options(aliceStore), uniqueCyphrId("scan"));
    const pending = await Account.beginLink(options(laptopStore, "grpc-web"));
    const waiting = pending.wait();
    await alice.approveLink(pending.code);
    await waiting;
    const keys = await loadAccountKeys(aliceStore);
    const needles = [
      keys.identitySecretKey,
      keys.mlKemSecretKey,
      (await loadDeviceKeys(aliceStore)).signingSecretKey,
      (await loadDeviceKeys(laptopStore)).signingSecretKey,
      new Uint8Array(Buffer.from(pending.code.split(".")[4]!, "hex")),
    ];
    expect(await findAllEverywhere(server.databaseUrl, needles)).toEqual([]);
  });
});
