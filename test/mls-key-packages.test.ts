import { type Client, Code } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DevicesService } from "../src/gen/cyphr/devices/v1/devices_pb.js";
import { KeyPackagesService } from "../src/gen/cyphr/mls/v1/key_packages_pb.js";
import { deviceCredentialIdentity } from "../src/mls/credential.js";
import { clientFor, identityClient, PROTOCOLS, type Protocol } from "./helpers/clients.js";
import { linkDevice } from "./helpers/devices.js";
import { deviceKeyPackage, nowSeconds, suiteImpl } from "./helpers/mls.js";
import { closeAllStreams, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

const MLKEM = 82;
const XWING = 84;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { MAX_KEY_PACKAGES: "12", KEY_PACKAGES_LOW_THRESHOLD: "3", DEVICE_LINK_BEGIN_PER_MINUTE: "6000", DEVICE_LINK_BEGIN_BURST: "1000" },
  });
});

afterAll(async () => {
  await closeAllStreams();
  await server?.close();
});

function keys(user: RegisteredUser, protocol: Protocol = "connect"): Client<typeof KeyPackagesService> {
  return clientFor(KeyPackagesService, protocol, server.baseUrl, { token: user.accessToken });
}

async function newUser(): Promise<RegisteredUser> {
  return registerUser(identityClient("connect", server.baseUrl));
}

/** `count` valid packages of the user's device. */
async function packages(
  user: RegisteredUser,
  count: number,
  suite:
    | "MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519"
    | "MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519" = "MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519",
) {
  return Promise.all(
    Array.from({ length: count }, () =>
      deviceKeyPackage({ cyphrId: user.cyphrId, deviceId: user.device.deviceId, signingSecretKey: user.device.deviceSecretKey, suite }),
    ),
  );
}

async function oneTimeCount(user: RegisteredUser, suite = MLKEM): Promise<number> {
  const { counts } = await keys(user).getKeyPackageCounts({});
  return counts.find((c) => c.ciphersuite === suite)?.oneTime ?? -1;
}

describe.each(PROTOCOLS)("key packages over %s", (protocol) => {
  it("uploads a device's packages, counts them, and hands each out with the ref a Welcome will name", async () => {
    const bob = await newUser();
    const alice = await newUser();
    const kps = await packages(bob, 3);
    const uploaded = await keys(bob, protocol).uploadKeyPackages({ keyPackages: kps.map((k) => k.bytes) });
    expect(uploaded.counts).toEqual([
      expect.objectContaining({ ciphersuite: MLKEM, oneTime: 3, hasLastResort: false }),
      expect.objectContaining({ ciphersuite: XWING, oneTime: 0, hasLastResort: false }),
    ]);
    const counts = await keys(bob, protocol).getKeyPackageCounts({});
    expect(counts).toMatchObject({ lowThreshold: 3, maxKeyPackages: 12 });
    expect(counts.counts[0]).toMatchObject({ ciphersuite: MLKEM, oneTime: 3 });

    const claimed = await keys(alice, protocol).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 });
    expect(claimed.userId).toBe(bob.userId);
    expect(claimed.devicesWithoutKeyPackage).toEqual([]);
    expect(claimed.keyPackages).toHaveLength(1);
    const [handed] = claimed.keyPackages;
    expect(handed!.deviceId).toBe(1);
    expect(handed!.lastResort).toBe(false);
    // The oldest package first, byte for byte as uploaded, with its RFC 9420 KeyPackageRef.
    expect(Buffer.from(handed!.keyPackage).equals(Buffer.from(kps[0]!.bytes))).toBe(true);
    const ref = await makeKeyPackageRef(kps[0]!.publicPackage, (await suiteImpl()).hash);
    expect(Buffer.from(handed!.keyPackageRef).equals(Buffer.from(ref))).toBe(true);
    expect(await oneTimeCount(bob)).toBe(2);
  });
});

describe("what an upload refuses", () => {
  it("names the first bad package by its index and stores none of the call", async () => {
    const bob = await newUser();
    const [good, second] = await packages(bob, 2);
    const otherKey = await deviceKeyPackage({ cyphrId: bob.cyphrId, deviceId: 1, signingSecretKey: ed25519.utils.randomSecretKey() });
    const otherDevice = await deviceKeyPackage({
      cyphrId: bob.cyphrId,
      deviceId: 1,
      signingSecretKey: bob.device.deviceSecretKey,
      identity: deviceCredentialIdentity(bob.cyphrId, 2),
    });
    const expired = await deviceKeyPackage({
      cyphrId: bob.cyphrId,
      deviceId: 1,
      signingSecretKey: bob.device.deviceSecretKey,
      lifetime: { notBefore: 0n, notAfter: nowSeconds() - 60n },
    });
    const client = keys(bob);
    const cases: [Uint8Array[], RegExp][] = [
      [[good!.bytes, new Uint8Array([1, 2, 3])], /^key_packages\[1\] is not an MLS message/],
      [[good!.bytes, otherKey.bytes], /^key_packages\[1\] is not signed with this device's certified signing key/],
      [[otherDevice.bytes], /^key_packages\[0\] has a credential that does not name this device/],
      [[good!.bytes, second!.bytes, expired.bytes], /^key_packages\[2\] has expired/],
      [[good!.bytes, second!.bytes, good!.bytes], /^key_packages\[2\] repeats key_packages\[0\]/],
      [[], /^key_packages: at least one key package is required/],
      [Array.from({ length: 101 }, () => good!.bytes), /^key_packages: at most 100 per call \(got 101\)/],
    ];
    for (const [list, message] of cases) await expectRpcError(client.uploadKeyPackages({ keyPackages: list }), Code.InvalidArgument, message);
    await expectRpcError(
      client.uploadKeyPackages({ keyPackages: [good!.bytes, second!.bytes], lastResort: true }),
      Code.InvalidArgument,
      "a last_resort upload carries exactly one key package (got 2)",
    );
    expect(await oneTimeCount(bob)).toBe(0);
  });

  it("refuses a package uploaded before, even once it was claimed", async () => {
    const bob = await newUser();
    const alice = await newUser();
    const [kp] = await packages(bob, 1);
    await keys(bob).uploadKeyPackages({ keyPackages: [kp!.bytes] });
    await expectRpcError(keys(bob).uploadKeyPackages({ keyPackages: [kp!.bytes] }), Code.InvalidArgument, "key_packages[0] was uploaded before");
    await keys(alice).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: MLKEM });
    await expectRpcError(keys(bob).uploadKeyPackages({ keyPackages: [kp!.bytes] }), Code.InvalidArgument, "key_packages[0] was uploaded before");
  });

  it("keeps a device within MAX_KEY_PACKAGES one-time packages, all suites together, all or nothing", async () => {
    const bob = await newUser();
    await keys(bob).uploadKeyPackages({ keyPackages: (await packages(bob, 8)).map((k) => k.bytes) });
    await keys(bob).uploadKeyPackages({ keyPackages: (await packages(bob, 3, "MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519")).map((k) => k.bytes) });
    await expectRpcError(
      keys(bob).uploadKeyPackages({ keyPackages: (await packages(bob, 2)).map((k) => k.bytes) }),
      Code.ResourceExhausted,
      "a device may store at most 12 one-time key packages (this upload would make 13)",
    );
    expect([await oneTimeCount(bob), await oneTimeCount(bob, XWING)]).toEqual([8, 3]);
    // A last-resort package does not count, and one more one-time package still fits.
    await keys(bob).uploadKeyPackages({ keyPackages: [(await packages(bob, 1))[0]!.bytes], lastResort: true });
    await keys(bob).uploadKeyPackages({ keyPackages: [(await packages(bob, 1))[0]!.bytes] });
    expect(await oneTimeCount(bob)).toBe(9);
  });

  it("refuses a suite the server does not accept, and calls without a token", async () => {
    const strict = await startTestServer({ env: { MLS_CIPHERSUITES: "MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519" } });
    try {
      const bob = await registerUser(identityClient("connect", strict.baseUrl));
      const client = clientFor(KeyPackagesService, "connect", strict.baseUrl, { token: bob.accessToken });
      const [xwing] = await packages(bob, 1, "MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519");
      await expectRpcError(
        client.uploadKeyPackages({ keyPackages: [xwing!.bytes] }),
        Code.InvalidArgument,
        /^key_packages\[0\] uses ciphersuite MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519, which this server does not accept/,
      );
      await expectRpcError(
        client.claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: XWING }),
        Code.InvalidArgument,
        "ciphersuite: 84 is not accepted here (accepted: 82 (MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519))",
      );
      expect((await client.getKeyPackageCounts({})).counts.map((c) => c.ciphersuite)).toEqual([MLKEM]);
      const anonymous = clientFor(KeyPackagesService, "connect", strict.baseUrl);
      await expectRpcError(anonymous.getKeyPackageCounts({}), Code.Unauthenticated, "missing authorization");
    } finally {
      await strict.close();
    }
  });
});

describe("claiming", () => {
  it("hands each one-time package out exactly once under 50 parallel claims, then the last-resort one", async () => {
    const bob = await newUser();
    const kps = await packages(bob, 10);
    await keys(bob).uploadKeyPackages({ keyPackages: kps.map((k) => k.bytes) });
    const [lastResort] = await packages(bob, 1);
    await keys(bob).uploadKeyPackages({ keyPackages: [lastResort!.bytes], lastResort: true });
    // Five claimers, ten claims each (within the per (claimer, user) burst), all at once.
    const claimers = await Promise.all(Array.from({ length: 5 }, () => newUser()));
    const results = await Promise.all(
      claimers.flatMap((c) => Array.from({ length: 10 }, () => keys(c).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: MLKEM }))),
    );
    const handed = results.map((r) => r.keyPackages[0]!);
    expect(handed).toHaveLength(50);
    const oneTime = handed.filter((h) => !h.lastResort).map((h) => Buffer.from(h.keyPackage).toString("hex"));
    expect(oneTime).toHaveLength(10);
    expect(new Set(oneTime).size).toBe(10);
    expect(new Set(oneTime)).toEqual(new Set(kps.map((k) => Buffer.from(k.bytes).toString("hex"))));
    const fallbacks = handed.filter((h) => h.lastResort);
    expect(fallbacks).toHaveLength(40);
    for (const f of fallbacks) expect(Buffer.from(f.keyPackage).equals(Buffer.from(lastResort!.bytes))).toBe(true);
    expect(await oneTimeCount(bob)).toBe(0);
    expect((await keys(bob).getKeyPackageCounts({})).counts[0]).toMatchObject({ oneTime: 0, hasLastResort: true });
  });

  it("gives one package per device of the user, the caller's own device excluded, and names devices without any", async () => {
    const alice = await newUser();
    const alice2 = await linkDevice(server.baseUrl, alice);
    const alice3 = await linkDevice(server.baseUrl, alice);
    const bob = await newUser();
    await keys(alice).uploadKeyPackages({ keyPackages: (await packages(alice, 2)).map((k) => k.bytes) });
    await keys(alice2).uploadKeyPackages({ keyPackages: (await packages(alice2, 2)).map((k) => k.bytes) });
    const forBob = await keys(bob).claimKeyPackages({ cyphrId: alice.cyphrId, ciphersuite: MLKEM });
    expect(forBob.keyPackages.map((k) => k.deviceId)).toEqual([1, 2]);
    expect(forBob.devicesWithoutKeyPackage).toEqual([alice3.device.deviceId]);
    // Alice's device 2 adding her other devices to a chat: never itself.
    const own = await keys(alice2).claimKeyPackages({ cyphrId: alice.cyphrId, ciphersuite: MLKEM });
    expect(own.keyPackages.map((k) => k.deviceId)).toEqual([1]);
    expect(own.devicesWithoutKeyPackage).toEqual([3]);
  });

  it("stops handing out a removed device's packages", async () => {
    const alice = await newUser();
    const alice2 = await linkDevice(server.baseUrl, alice);
    const bob = await newUser();
    await keys(alice2).uploadKeyPackages({ keyPackages: (await packages(alice2, 2)).map((k) => k.bytes) });
    await clientFor(DevicesService, "connect", server.baseUrl, { token: alice.accessToken }).removeDevice({ deviceId: 2 });
    const claimed = await keys(bob).claimKeyPackages({ cyphrId: alice.cyphrId, ciphersuite: MLKEM });
    expect(claimed.keyPackages).toEqual([]);
    expect(claimed.devicesWithoutKeyPackage).toEqual([1]);
  });

  it("refuses unknown users, malformed ids and claims beyond the per-user rate", async () => {
    const alice = await newUser();
    const bob = await newUser();
    await expectRpcError(keys(alice).claimKeyPackages({ cyphrId: "nobody_here_123", ciphersuite: 0 }), Code.NotFound, "cyphr_id: no such user");
    await expectRpcError(keys(alice).claimKeyPackages({ cyphrId: "Not An Id", ciphersuite: 0 }), Code.InvalidArgument, "cyphr_id must match");
    await expectRpcError(keys(alice).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 1 }), Code.InvalidArgument, "ciphersuite: 1 is not accepted here");
    for (let i = 0; i < 10; i++) await keys(alice).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 });
    const limited = await expectRpcError(
      keys(alice).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 }),
      Code.ResourceExhausted,
      "too many key package claims",
    );
    expect(Number(limited.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
    // The limit is per (claimer, user): another claimer is not affected.
    await keys(await newUser()).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 });
  });

  it("tells the account when a device drops below the threshold and when it runs out, durably", async () => {
    const bob = await newUser();
    const alice = await newUser();
    await keys(bob).uploadKeyPackages({ keyPackages: (await packages(bob, 5)).map((k) => k.bytes) });
    for (let i = 0; i < 5; i++) await keys(alice).claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: MLKEM });
    // Bob's device was offline: it reads the events on resume from the start; his other device never gets them.
    const other = await linkDevice(server.baseUrl, bob);
    const onOther = subscribe(server.baseUrl, other.accessToken, { resumeCursor: 0 });
    await onOther.take("devicesChanged");
    await onOther.take("caughtUp");
    expect(onOther.all("keyPackagesLow")).toEqual([]);
    const stream = subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    const first = await stream.take("keyPackagesLow");
    expect(first.value).toMatchObject({ deviceId: 1, ciphersuite: MLKEM, oneTime: 2 });
    const second = await stream.take("keyPackagesLow");
    expect(second.value).toMatchObject({ deviceId: 1, ciphersuite: MLKEM, oneTime: 0 });
    await stream.take("caughtUp");
    expect(stream.all("keyPackagesLow")).toHaveLength(2);
    stream.close();
  });
});
