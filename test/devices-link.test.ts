import { randomBytes, randomUUID } from "node:crypto";
import type http2 from "node:http2";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceCertificateBytes } from "../src/devices/signed-bytes.js";
import { DevicesService } from "../src/gen/cyphr/devices/v1/devices_pb.js";
import { identityClient, type Protocol } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { devicesClient, LinkWait, linkDevice, newDeviceOf } from "./helpers/devices.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { deviceCertificate, type RegisteredUser, registerUser } from "./helpers/users.js";

/** Linking a new device to an account: BeginDeviceLink → WaitDeviceLink ← ApproveDeviceLink, then Login as it. */

let a: TestServer;
let b: TestServer;
/** Generous link rates: these tests begin many links from 127.0.0.1; the bounds have their own server below. */
const ROOMY = { DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINK_BEGIN_PER_MINUTE: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "1000" };
beforeAll(async () => {
  a = await startTestServer({ env: ROOMY });
  b = await startTestServer({ databaseUrl: a.databaseUrl, dataDir: a.dataDir, env: ROOMY });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const UNKNOWN_LINK = "unknown or expired device link";

async function newAccount(): Promise<RegisteredUser> {
  return registerUser(identityClient("connect", a.baseUrl));
}

/** A begun link of a fresh device for `account`, with a wait open on it. */
async function begunLink(account: RegisteredUser, baseUrl = a.baseUrl) {
  const device = newDeviceOf(account.device);
  const anonymous = devicesClient("connect", baseUrl);
  const link = await anonymous.beginDeviceLink({ deviceSigningKey: device.deviceSigningKey, deviceFingerprint: device.fingerprint });
  return { device, link, anonymous };
}

function approveRequest(account: RegisteredUser, begun: Awaited<ReturnType<typeof begunLink>>, deviceId: number) {
  return {
    linkId: begun.link.linkId,
    linkSecret: begun.link.linkSecret,
    deviceId,
    certificate: deviceCertificate(account.device, account.cyphrId, deviceId, begun.device.deviceSigningKey),
    provisioningBlob: new Uint8Array([1, 2, 3]),
  };
}

describe.each<{ protocol: Protocol; name: string }>([
  { protocol: "connect", name: "Connect" },
  { protocol: "grpc-web", name: "gRPC-Web" },
  { protocol: "grpc", name: "gRPC" },
])("Linking a second device over $name", ({ protocol }) => {
  it("the new device waits, the approval reaches its stream with id 2, certificate and blob, and it logs in as device 2", async () => {
    const alice = await registerUser(identityClient(protocol, a.baseUrl));
    const blob = new Uint8Array(randomBytes(300));
    const second = await linkDevice(a.baseUrl, alice, { protocol, provisioningBlob: blob, encryptedName: Buffer.from("sealed name") });

    expect(second.approved).toMatchObject({ cyphrId: alice.cyphrId, userId: alice.userId, deviceId: 2 });
    expect(Buffer.from(second.approved.provisioningBlob).equals(blob)).toBe(true);
    expect(second.userId).toBe(alice.userId);
    const [row] = await queryDatabase<{ device_id: number }>(a.databaseUrl, "SELECT device_id FROM sessions WHERE id = $1", [second.sessionId]);
    expect(row!.device_id).toBe(2);

    // Both devices' tokens work, and ListDevices shows both with certificates that verify.
    const list = await devicesClient(protocol, a.baseUrl, { token: second.accessToken }).listDevices({ cyphrId: alice.cyphrId });
    expect(list.devices.map((d) => d.deviceId)).toEqual([1, 2]);
    expect(list.nextDeviceId).toBe(3);
    expect(Buffer.from(list.identityPublicKey).equals(Buffer.from(alice.device.identityPublicKey))).toBe(true);
    for (const device of list.devices) {
      const signed = deviceCertificateBytes(alice.cyphrId, device.deviceId, device.signingKey);
      expect(ed25519.verify(device.certificate, signed, list.identityPublicKey)).toBe(true);
    }
    expect(Buffer.from(list.devices[1]!.signingKey).equals(Buffer.from(second.device.deviceSigningKey))).toBe(true);
    expect(Buffer.from(list.devices[1]!.encryptedName).toString()).toBe("sealed name");
    await devicesClient(protocol, a.baseUrl, { token: alice.accessToken }).listDevices({ cyphrId: alice.cyphrId });
  });
});

describe("Linking across instances and delivery", () => {
  it("a new device waiting on instance B receives the approval made through instance A", async () => {
    const alice = await newAccount();
    const second = await linkDevice(a.baseUrl, alice, { waiterBaseUrl: b.baseUrl });
    expect(second.approved.deviceId).toBe(2);
  });

  it("the first message of the wait is `pending` with the link's expiry, 10 minutes after BeginDeviceLink", async () => {
    const alice = await newAccount();
    const before = Date.now();
    const begun = await begunLink(alice);
    const expiresMs = Number(begun.link.expiresAt!.seconds) * 1000;
    expect(expiresMs).toBeGreaterThanOrEqual(before + 599_000);
    expect(expiresMs).toBeLessThanOrEqual(Date.now() + 601_000);
    expect(begun.link.linkSecret).toHaveLength(32);
    const wait = new LinkWait(begun.anonymous.waitDeviceLink({ linkId: begun.link.linkId, linkSecret: begun.link.linkSecret }));
    await wait.pending();
    expect(wait.messages[0]!.state.case).toBe("pending");
    await devicesClient("connect", a.baseUrl, { token: alice.accessToken }).approveDeviceLink(approveRequest(alice, begun, 2));
    expect((await wait.done).approved?.deviceId).toBe(2);
  });

  it("an approval made before the new device waits is delivered when it connects, once: a later wait gets NOT_FOUND", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    await devicesClient("connect", a.baseUrl, { token: alice.accessToken }).approveDeviceLink(approveRequest(alice, begun, 2));
    const ref = { linkId: begun.link.linkId, linkSecret: begun.link.linkSecret };
    const first = new LinkWait(begun.anonymous.waitDeviceLink(ref));
    expect((await first.done).approved?.deviceId).toBe(2);
    expect(first.messages.map((m) => m.state.case)).toEqual(["approved"]);
    const again = new LinkWait(begun.anonymous.waitDeviceLink(ref));
    const { error } = await again.done;
    await expectRpcError(Promise.reject(error), Code.NotFound, UNKNOWN_LINK);
    const [row] = await queryDatabase<{ n: number }>(a.databaseUrl, "SELECT count(*)::int AS n FROM device_links WHERE id = $1", [ref.linkId]);
    expect(row!.n).toBe(0);
  });

  it("the server stores only a SHA-256 of the link secret", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    const [row] = await queryDatabase<{ secret_hash: Buffer; whole: string }>(
      a.databaseUrl,
      "SELECT secret_hash, l::text AS whole FROM device_links l WHERE id = $1",
      [begun.link.linkId],
    );
    expect(row!.secret_hash.equals(Buffer.from(begun.link.linkSecret))).toBe(false);
    expect(row!.whole).not.toContain(Buffer.from(begun.link.linkSecret).toString("hex"));
  });
});

describe("Link secrets and expiry", () => {
  it("a wrong secret and an unknown link id get the same NOT_FOUND answer from ApproveDeviceLink and WaitDeviceLink", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    const own = devicesClient("connect", a.baseUrl, { token: alice.accessToken });
    const wrongSecret = { ...approveRequest(alice, begun, 2), linkSecret: new Uint8Array(randomBytes(32)) };
    const unknownId = { ...approveRequest(alice, begun, 2), linkId: randomUUID() };
    const answers = [];
    for (const req of [wrongSecret, unknownId]) {
      const error = await expectRpcError(own.approveDeviceLink(req), Code.NotFound, UNKNOWN_LINK);
      answers.push(error.rawMessage);
      const wait = await new LinkWait(begun.anonymous.waitDeviceLink({ linkId: req.linkId, linkSecret: req.linkSecret })).done;
      answers.push((await expectRpcError(Promise.reject(wait.error), Code.NotFound, UNKNOWN_LINK)).rawMessage);
    }
    expect(new Set(answers)).toEqual(new Set([UNKNOWN_LINK]));
    // The right secret still works afterwards.
    await own.approveDeviceLink(approveRequest(alice, begun, 2));
  });

  it("an expired link cannot be approved (NOT_FOUND) and cannot be waited on", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    await queryDatabase(a.databaseUrl, "UPDATE device_links SET expires_at = now() - interval '1 second' WHERE id = $1", [begun.link.linkId]);
    const own = devicesClient("connect", a.baseUrl, { token: alice.accessToken });
    await expectRpcError(own.approveDeviceLink(approveRequest(alice, begun, 2)), Code.NotFound, UNKNOWN_LINK);
    const wait = await new LinkWait(begun.anonymous.waitDeviceLink({ linkId: begun.link.linkId, linkSecret: begun.link.linkSecret })).done;
    await expectRpcError(Promise.reject(wait.error), Code.NotFound, UNKNOWN_LINK);
    expect((await own.listDevices({ cyphrId: alice.cyphrId })).devices).toHaveLength(1);
  });

  it("a wait whose link expires while waiting ends DEADLINE_EXCEEDED 'device link expired'", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    const wait = new LinkWait(begun.anonymous.waitDeviceLink({ linkId: begun.link.linkId, linkSecret: begun.link.linkSecret }));
    await wait.pending();
    await queryDatabase(a.databaseUrl, "UPDATE device_links SET expires_at = now() + interval '300 milliseconds' WHERE id = $1", [begun.link.linkId]);
    const { error, approved } = await wait.done;
    expect(approved).toBeUndefined();
    await expectRpcError(Promise.reject(error), Code.DeadlineExceeded, "device link expired");
  });

  it("expired links are swept from the database", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    await queryDatabase(a.databaseUrl, "UPDATE device_links SET expires_at = now() - interval '1 second' WHERE id = $1", [begun.link.linkId]);
    const run = await a.app.jobs.run("devices.expired-links");
    expect(run.outcome === "ok" && run.rows).toBeGreaterThanOrEqual(1);
    const [row] = await queryDatabase<{ n: number }>(a.databaseUrl, "SELECT count(*)::int AS n FROM device_links WHERE id = $1", [begun.link.linkId]);
    expect(row!.n).toBe(0);
  });
});

describe("What the approver signs", () => {
  it("a certificate signed for another device id than the next one is refused FAILED_PRECONDITION naming the next id", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    const own = devicesClient("connect", a.baseUrl, { token: alice.accessToken });
    await expectRpcError(own.approveDeviceLink(approveRequest(alice, begun, 3)), Code.FailedPrecondition, "device_id 3 is not the account's next device id 2");
  });

  it("a certificate that does not verify (other id in the signed bytes, or another key) is INVALID_ARGUMENT", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    const own = devicesClient("connect", a.baseUrl, { token: alice.accessToken });
    const signedForThree = { ...approveRequest(alice, begun, 2), certificate: approveRequest(alice, begun, 3).certificate };
    await expectRpcError(own.approveDeviceLink(signedForThree), Code.InvalidArgument, "certificate does not verify");
    const byDeviceKey = {
      ...approveRequest(alice, begun, 2),
      certificate: ed25519.sign(deviceCertificateBytes(alice.cyphrId, 2, begun.device.deviceSigningKey), alice.device.deviceSecretKey),
    };
    await expectRpcError(own.approveDeviceLink(byDeviceKey), Code.InvalidArgument, "certificate does not verify");
    // Nothing was half-written: the link is still pending and id 2 still next.
    await own.approveDeviceLink(approveRequest(alice, begun, 2));
  });

  it("two links approved at once for the same next id: exactly one gets it, the other FAILED_PRECONDITION and nothing half-written", async () => {
    const alice = await newAccount();
    const first = await begunLink(alice);
    const second = await begunLink(alice);
    const own = devicesClient("connect", a.baseUrl, { token: alice.accessToken });
    const results = await Promise.allSettled([own.approveDeviceLink(approveRequest(alice, first, 2)), own.approveDeviceLink(approveRequest(alice, second, 2))]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    await expectRpcError(Promise.reject(loser.reason), Code.FailedPrecondition, "is not the account's next device id 3");
    expect((await own.listDevices({ cyphrId: alice.cyphrId })).devices.map((d) => d.deviceId)).toEqual([1, 2]);
    // The loser's link is still pending: it re-signs for 3 and succeeds.
    const loserLink = results[0]!.status === "rejected" ? first : second;
    expect((await own.approveDeviceLink(approveRequest(alice, loserLink, 3))).device!.deviceId).toBe(3);
  });

  it("another account cannot approve a link to its own account with a certificate of the first (the link is used once)", async () => {
    const alice = await newAccount();
    const mallory = await newAccount();
    const begun = await begunLink(alice);
    await devicesClient("connect", a.baseUrl, { token: alice.accessToken }).approveDeviceLink(approveRequest(alice, begun, 2));
    await expectRpcError(
      devicesClient("connect", a.baseUrl, { token: mallory.accessToken }).approveDeviceLink(approveRequest(mallory, begun, 2)),
      Code.NotFound,
      UNKNOWN_LINK,
    );
  });

  it("ApproveDeviceLink needs an access token", async () => {
    const alice = await newAccount();
    const begun = await begunLink(alice);
    await expectRpcError(devicesClient("connect", a.baseUrl).approveDeviceLink(approveRequest(alice, begun, 2)), Code.Unauthenticated, "missing authorization");
  });
});

describe("MAX_DEVICES", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ env: { ...ROOMY, MAX_DEVICES: "3" } });
  });
  afterAll(() => small?.close());

  it("an account with MAX_DEVICES devices cannot approve another (FAILED_PRECONDITION); after a removal it can, with a new id", async () => {
    const alice = await registerUser(identityClient("connect", small.baseUrl));
    await linkDevice(small.baseUrl, alice);
    await linkDevice(small.baseUrl, alice);
    const own = devicesClient("connect", small.baseUrl, { token: alice.accessToken });
    await expectRpcError(linkDevice(small.baseUrl, alice), Code.FailedPrecondition, "the account already has the maximum of 3 devices");
    expect((await own.listDevices({ cyphrId: alice.cyphrId })).devices.map((d) => d.deviceId)).toEqual([1, 2, 3]);

    await own.removeDevice({ deviceId: 2 });
    const fourth = await linkDevice(small.baseUrl, alice);
    // Ids are never reused: 2 is gone, the next device is 4.
    expect(fourth.approved.deviceId).toBe(4);
    expect((await own.listDevices({ cyphrId: alice.cyphrId })).devices.map((d) => d.deviceId)).toEqual([1, 3, 4]);
  });
});

describe("Bounds of BeginDeviceLink", () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startTestServer({ env: { DEVICE_LINK_BEGIN_BURST: "100", DEVICE_LINK_BEGIN_PER_MINUTE: "100" } });
  });
  afterAll(() => strict?.close());

  const begin = (server: TestServer) =>
    devicesClient("connect", server.baseUrl).beginDeviceLink({
      deviceSigningKey: ed25519.getPublicKey(ed25519.utils.randomSecretKey()),
      deviceFingerprint: randomBytes(32),
    });

  it("one source may have at most DEVICE_LINKS_PENDING_PER_SOURCE (default 3) pending links: the 4th is RESOURCE_EXHAUSTED", async () => {
    for (let i = 0; i < 3; i++) await begin(strict);
    await expectRpcError(begin(strict), Code.ResourceExhausted, "at most 3 pending device links per address");
    // Once they expire the source may begin again.
    await queryDatabase(strict.databaseUrl, "UPDATE device_links SET expires_at = now() - interval '1 second'");
    await begin(strict);
  });

  it("BeginDeviceLink is rate-limited per source with retry-after (burst DEVICE_LINK_BEGIN_BURST)", async () => {
    const limited = await startTestServer({ env: { DEVICE_LINK_BEGIN_BURST: "2", DEVICE_LINKS_PENDING_PER_SOURCE: "100" } });
    try {
      await begin(limited);
      await begin(limited);
      const error = await expectRpcError(begin(limited), Code.ResourceExhausted, "too many device links begun from this address");
      expect(Number(error.metadata.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe("Pending links are bounded per source address", () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startTestServer({ env: { DEVICE_LINK_BEGIN_BURST: "100", DEVICE_LINK_BEGIN_PER_MINUTE: "100", DEVICE_LINKS_PENDING_PER_SOURCE: "1" } });
  });
  afterAll(() => strict?.close());

  const beginFrom = (localAddress: string, httpVersion: "1.1" | "2") =>
    createClient(
      DevicesService,
      httpVersion === "1.1"
        ? createConnectTransport({ baseUrl: strict.baseUrl, httpVersion, nodeOptions: { localAddress } })
        : createGrpcTransport({ baseUrl: strict.baseUrl, nodeOptions: { localAddress } as http2.ClientSessionOptions }),
    ).beginDeviceLink({ deviceSigningKey: ed25519.getPublicKey(ed25519.utils.randomSecretKey()), deviceFingerprint: randomBytes(32) });

  it.each(["1.1", "2"] as const)("a source at its bound does not stop another address (HTTP/%s)", async (httpVersion) => {
    await queryDatabase(strict.databaseUrl, "DELETE FROM device_links");
    await beginFrom("127.0.0.2", httpVersion);
    await expectRpcError(beginFrom("127.0.0.2", httpVersion), Code.ResourceExhausted, "at most 1 pending device links per address");
    await beginFrom("127.0.0.3", httpVersion);
  });
});

describe("A long wait stays visibly alive", () => {
  it("WaitDeviceLink repeats `pending` every HEARTBEAT_INTERVAL_MS until the approval", async () => {
    const quick = await startTestServer({ env: { ...ROOMY, HEARTBEAT_INTERVAL_MS: "150" } });
    try {
      const alice = await registerUser(identityClient("connect", quick.baseUrl));
      const device = newDeviceOf(alice.device);
      const anonymous = devicesClient("grpc-web", quick.baseUrl, { httpVersion: "1.1" });
      const link = await anonymous.beginDeviceLink({ deviceSigningKey: device.deviceSigningKey, deviceFingerprint: device.fingerprint });
      const wait = new LinkWait(anonymous.waitDeviceLink({ linkId: link.linkId, linkSecret: link.linkSecret }));
      const deadline = Date.now() + 5000;
      while (wait.messages.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(wait.messages.slice(0, 3).map((m) => m.state.case)).toEqual(["pending", "pending", "pending"]);
      const certificate = deviceCertificate(alice.device, alice.cyphrId, 2, device.deviceSigningKey);
      await devicesClient("connect", quick.baseUrl, { token: alice.accessToken }).approveDeviceLink({
        linkId: link.linkId,
        linkSecret: link.linkSecret,
        deviceId: 2,
        certificate,
        provisioningBlob: new Uint8Array([1]),
      });
      expect((await wait.done).approved?.deviceId).toBe(2);
      expect(wait.messages.at(-1)!.state.case).toBe("approved");
    } finally {
      await quick.close();
    }
  });
});

describe("The source address behind a proxy", () => {
  const beginAs = (server: TestServer, forwardedFor: string) =>
    createClient(
      DevicesService,
      createConnectTransport({
        baseUrl: server.baseUrl,
        httpVersion: "1.1",
        interceptors: [(next) => (req) => (req.header.set("x-forwarded-for", forwardedFor), next(req))],
      }),
    ).beginDeviceLink({ deviceSigningKey: ed25519.getPublicKey(ed25519.utils.randomSecretKey()), deviceFingerprint: randomBytes(32) });

  it("DEVICE_LINK_SOURCE=last-forwarded-for counts each client by the address the proxy appended; by default the header is ignored", async () => {
    const env = { DEVICE_LINK_BEGIN_BURST: "100", DEVICE_LINK_BEGIN_PER_MINUTE: "100", DEVICE_LINKS_PENDING_PER_SOURCE: "1" };
    const behindEnvoy = await startTestServer({ env: { ...env, DEVICE_LINK_SOURCE: "last-forwarded-for" } });
    const direct = await startTestServer({ env });
    try {
      // A client cannot escape its bound by sending its own first entries: only the last one (the proxy's) counts.
      await beginAs(behindEnvoy, "1.1.1.1, 203.0.113.7");
      await expectRpcError(beginAs(behindEnvoy, "9.9.9.9, 203.0.113.7"), Code.ResourceExhausted, "at most 1 pending device links per address");
      await beginAs(behindEnvoy, "203.0.113.8");

      await beginAs(direct, "203.0.113.7");
      await expectRpcError(beginAs(direct, "203.0.113.8"), Code.ResourceExhausted, "at most 1 pending device links per address");
    } finally {
      await direct.close();
      await behindEnvoy.close();
    }
  });
});
