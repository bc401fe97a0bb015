import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnavailableReason } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type Device, deviceCertificate, newDevice, registerRequest, registerUser, uniqueCyphrId } from "./helpers/users.js";
import { identityClientOver, WIRES } from "./helpers/wires.js";

/** CheckAvailability and Register: who may claim which Cyphr ID, with which keys. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const client = () => identityClient("connect", server.baseUrl);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const P = 2n ** 255n - 19n;

/** 32-byte little-endian encoding of y (sign bit of x clear), as RFC 8032 lays out a point. */
function encodeY(y: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0, v = y; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** A device whose ML-KEM key is replaced; requests for it are still correctly signed. */
function deviceWithMlKemKey(mlKemPublicKey: Uint8Array): Device {
  return { ...newDevice(), mlKemPublicKey };
}

describe.each(WIRES)("CheckAvailability and Register over $name", (wire) => {
  it("CheckAvailability says a free, well-formed id is available", async () => {
    const res = await identityClientOver(wire, server.baseUrl).checkAvailability({ cyphrId: uniqueCyphrId("free") });
    expect(res.available).toBe(true);
    expect(res.reason).toBe(UnavailableReason.UNSPECIFIED);
  });

  it("CheckAvailability reports reserved ids and invalid formats in the response, not as errors", async () => {
    const rpc = identityClientOver(wire, server.baseUrl);
    const reserved = await rpc.checkAvailability({ cyphrId: "admin" });
    expect(reserved).toMatchObject({ available: false, reason: UnavailableReason.RESERVED });
    const invalid = await rpc.checkAvailability({ cyphrId: "Not-Valid" });
    expect(invalid).toMatchObject({ available: false, reason: UnavailableReason.INVALID_FORMAT });
  });

  it("Register creates the account with its first session, after which the id is taken", async () => {
    const rpc = identityClientOver(wire, server.baseUrl);
    const cyphrId = uniqueCyphrId("reg");
    const before = Date.now();
    const res = await rpc.register(registerRequest(newDevice(), cyphrId, "Alice"));

    expect(res.userId).toMatch(UUID);
    const session = res.session!;
    expect(session.sessionId).toMatch(UUID);
    expect(session.accessToken.split(".")).toHaveLength(3);
    expect(session.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Number(session.accessTokenExpiresAt!.seconds) * 1000).toBeGreaterThan(before);
    expect(Number(session.refreshTokenExpiresAt!.seconds) * 1000).toBeGreaterThan(before + 29 * 86_400_000);

    expect(await rpc.checkAvailability({ cyphrId })).toMatchObject({ available: false, reason: UnavailableReason.TAKEN });
    const { profile } = await rpc.getProfile({ cyphrId });
    expect(profile).toMatchObject({ userId: res.userId, cyphrId, displayName: "Alice" });
  });

  it("Register of a taken id fails with ALREADY_EXISTS", async () => {
    const rpc = identityClientOver(wire, server.baseUrl);
    const { cyphrId } = await registerUser(rpc);
    const again = rpc.register(registerRequest(newDevice(), cyphrId));
    await expectRpcError(again, Code.AlreadyExists, `cyphr_id "${cyphrId}" is already taken`);
  });
});

describe("cyphr_id format and reserved ids", () => {
  const invalid = [
    ["too short (2 characters)", "ab"],
    ["too long (31 characters)", "a".repeat(31)],
    ["upper case", "Alice_1"],
    ["a hyphen", "al-ice"],
    ["a space", "al ice"],
    ["a dot", "al.ice"],
    ["a non-ASCII letter", "ålice"],
    ["empty", ""],
  ] as const;

  it.each(invalid)("CheckAvailability reports INVALID_FORMAT for an id that is %s", async (_, cyphrId) => {
    expect(await client().checkAvailability({ cyphrId })).toMatchObject({
      available: false,
      reason: UnavailableReason.INVALID_FORMAT,
    });
  });

  it.each(invalid)("Register refuses an id that is %s with INVALID_ARGUMENT", async (_, cyphrId) => {
    const call = client().register(registerRequest(newDevice(), cyphrId));
    await expectRpcError(call, Code.InvalidArgument, "cyphr_id must match ^[a-z0-9_]{3,30}$");
  });

  it.each(["admin", "support", "cyphr", "system", "root"])("the reserved id %s is reported RESERVED and cannot be registered", async (id) => {
    expect(await client().checkAvailability({ cyphrId: id })).toMatchObject({ available: false, reason: UnavailableReason.RESERVED });
    const call = client().register(registerRequest(newDevice(), id));
    await expectRpcError(call, Code.InvalidArgument, `cyphr_id "${id}" is reserved`);
  });

  it("ids of exactly 3 and exactly 30 characters of [a-z0-9_] can be registered", async () => {
    for (const cyphrId of ["a_1", "z9_".repeat(10)]) {
      const res = await client().register(registerRequest(newDevice(), cyphrId));
      expect(res.userId).toMatch(UUID);
    }
  });
});

describe("identity_public_key", () => {
  it.each([0, 31, 33])("a key of %i bytes is refused with INVALID_ARGUMENT", async (length) => {
    const device = { ...newDevice(), identityPublicKey: new Uint8Array(length).fill(7) };
    await expectRpcError(
      client().register(registerRequest(device, uniqueCyphrId())),
      Code.InvalidArgument,
      `identity_public_key must be 32 bytes, got ${length}`,
    );
  });

  it("a non-canonical encoding (y >= p) of a real point is refused", async () => {
    // y = p + 3 encodes the same point as y = 3, a valid point of large order; RFC 8032
    // requires y < p, so only the lenient ZIP-215 decoder accepts this encoding.
    const nonCanonical = encodeY(P + 3n);
    expect(ed25519.Point.fromBytes(nonCanonical, true).isSmallOrder()).toBe(false);
    expect(ed25519.Point.fromBytes(nonCanonical, true).equals(ed25519.Point.fromBytes(encodeY(3n)))).toBe(true);

    const device = { ...newDevice(), identityPublicKey: nonCanonical };
    await expectRpcError(client().register(registerRequest(device, uniqueCyphrId())), Code.InvalidArgument, "identity_public_key is not a valid Ed25519 point");
  });

  it("an encoding of a point that is not on the curve is refused", async () => {
    const offCurve = encodeY(2n); // no x satisfies the curve equation for y = 2
    expect(() => ed25519.Point.fromBytes(offCurve, true)).toThrow();
    const device = { ...newDevice(), identityPublicKey: offCurve };
    await expectRpcError(client().register(registerRequest(device, uniqueCyphrId())), Code.InvalidArgument, "identity_public_key is not a valid Ed25519 point");
  });

  it.each([
    ["the identity point (0x01 then 31 zero bytes)", encodeY(1n)],
    ["the point of order 4 (32 zero bytes)", encodeY(0n)],
  ])("a small-order key, %s, is refused", async (_, key) => {
    const device = { ...newDevice(), identityPublicKey: key };
    await expectRpcError(
      client().register(registerRequest(device, uniqueCyphrId())),
      Code.InvalidArgument,
      "identity_public_key is a small-order Ed25519 point",
    );
  });

  it("an identity key already registered to another account is refused with ALREADY_EXISTS", async () => {
    const first = await registerUser(client());
    const { identitySecretKey, identityPublicKey } = first.device;
    const sameKeys = { ...newDevice(), identitySecretKey, identityPublicKey };
    await expectRpcError(
      client().register(registerRequest(sameKeys, uniqueCyphrId())),
      Code.AlreadyExists,
      "identity_public_key is already registered to another account",
    );
  });
});

describe("ml_kem_public_key", () => {
  it.each([0, 800, 1567, 1569])("a key of %i bytes is refused with INVALID_ARGUMENT", async (length) => {
    await expectRpcError(
      client().register(registerRequest(deviceWithMlKemKey(new Uint8Array(length)), uniqueCyphrId())),
      Code.InvalidArgument,
      `ml_kem_public_key must be 1568 bytes, got ${length}`,
    );
  });

  it("a key whose first 12-bit coefficient is 4095 (>= q = 3329) fails the FIPS 203 check", async () => {
    const key = new Uint8Array(newDevice().mlKemPublicKey);
    key.set([0xff, 0xff, 0xff], 0);
    await expectRpcError(
      client().register(registerRequest(deviceWithMlKemKey(key), uniqueCyphrId())),
      Code.InvalidArgument,
      "ml_kem_public_key fails the FIPS 203 encapsulation key check",
    );
  });

  it("a key whose last coefficient is exactly q = 3329 fails the FIPS 203 check", async () => {
    // Bytes 1533..1535 hold coefficients 1022 and 1023 of the last polynomial; set the second to 3329 = 0xd01.
    const key = new Uint8Array(newDevice().mlKemPublicKey);
    key[1534] = (key[1534]! & 0x0f) | 0x10;
    key[1535] = 0xd0;
    await expectRpcError(
      client().register(registerRequest(deviceWithMlKemKey(key), uniqueCyphrId())),
      Code.InvalidArgument,
      "ml_kem_public_key fails the FIPS 203 encapsulation key check",
    );
  });

  it("the 32 seed bytes (rho) after the polynomials are not constrained", async () => {
    const key = new Uint8Array(newDevice().mlKemPublicKey);
    key.fill(0xff, 1536);
    const res = await client().register(registerRequest(deviceWithMlKemKey(key), uniqueCyphrId()));
    expect(res.userId).toMatch(UUID);
  });
});

describe("device_fingerprint and signature", () => {
  it.each([0, 31, 33])("a device fingerprint of %i bytes is refused with INVALID_ARGUMENT", async (length) => {
    const device = { ...newDevice(), fingerprint: new Uint8Array(length) };
    await expectRpcError(
      client().register(registerRequest(device, uniqueCyphrId())),
      Code.InvalidArgument,
      `device_fingerprint must be 32 bytes, got ${length}`,
    );
  });

  it.each([0, 63, 65])("a signature of %i bytes is refused with INVALID_ARGUMENT", async (length) => {
    const req = { ...registerRequest(newDevice(), uniqueCyphrId()), signature: new Uint8Array(length) };
    await expectRpcError(client().register(req), Code.InvalidArgument, `signature must be 64 bytes, got ${length}`);
  });

  it("a signature with one flipped bit does not verify: UNAUTHENTICATED", async () => {
    const req = registerRequest(newDevice(), uniqueCyphrId());
    const signature = new Uint8Array(req.signature);
    signature[10]! ^= 0x01;
    await expectRpcError(client().register({ ...req, signature }), Code.Unauthenticated, "signature does not verify");
  });

  it("a signature over a different cyphr_id is refused: UNAUTHENTICATED", async () => {
    const device = newDevice();
    const signedForOther = registerRequest(device, uniqueCyphrId());
    const req = { ...signedForOther, cyphrId: uniqueCyphrId() };
    await expectRpcError(client().register(req), Code.Unauthenticated, "signature does not verify with identity_public_key");
  });

  it("a signature that does not cover the ml_kem_public_key sent (key substitution) is refused: UNAUTHENTICATED", async () => {
    const req = { ...registerRequest(newDevice(), uniqueCyphrId()), mlKemPublicKey: newDevice().mlKemPublicKey };
    await expectRpcError(client().register(req), Code.Unauthenticated, "signature does not verify with identity_public_key");
  });

  it("a signature made by another key is refused: UNAUTHENTICATED", async () => {
    const device = newDevice();
    const req = registerRequest({ ...device, identitySecretKey: newDevice().identitySecretKey }, uniqueCyphrId());
    await expectRpcError(client().register(req), Code.Unauthenticated, "signature does not verify with identity_public_key");
  });

  it("a refused registration leaves the id available", async () => {
    const cyphrId = uniqueCyphrId();
    const req = registerRequest(newDevice(), cyphrId);
    await expectRpcError(client().register({ ...req, signature: new Uint8Array(64) }), Code.Unauthenticated, "signature does not verify");
    expect(await client().checkAvailability({ cyphrId })).toMatchObject({ available: true });
    expect((await client().register(req)).userId).toMatch(UUID);
  });
});

describe("device 1", () => {
  it("Register creates device 1 with its signing key, certificate and encrypted name; the next device will be 2", async () => {
    const device = newDevice();
    const cyphrId = uniqueCyphrId();
    const res = await client().register({ ...registerRequest(device, cyphrId), deviceEncryptedName: Buffer.from("sealed") });
    expect(res.deviceId).toBe(1);
    const [row] = await queryDatabase<{ device_id: number; signing_key: Buffer; certificate: Buffer; encrypted_name: Buffer; next_device_id: number }>(
      server.databaseUrl,
      `SELECT d.device_id, d.signing_key, d.certificate, d.encrypted_name, i.next_device_id
       FROM devices d JOIN identities i ON i.id = d.user_id WHERE d.user_id = $1`,
      [res.userId],
    );
    expect(row!.device_id).toBe(1);
    expect(row!.signing_key.equals(Buffer.from(device.deviceSigningKey))).toBe(true);
    expect(row!.certificate).toHaveLength(64);
    expect(row!.encrypted_name.toString()).toBe("sealed");
    expect(row!.next_device_id).toBe(2);
  });

  it.each([0, 31, 33])("a device signing key of %i bytes is refused with INVALID_ARGUMENT", async (length) => {
    const req = { ...registerRequest(newDevice(), uniqueCyphrId()), deviceSigningKey: new Uint8Array(length) };
    await expectRpcError(client().register(req), Code.InvalidArgument, `device_signing_key must be 32 bytes, got ${length}`);
  });

  it.each([
    ["not on the curve", encodeY(2n), "device_signing_key is not a valid Ed25519 point"],
    ["a small-order point", encodeY(1n), "device_signing_key is a small-order Ed25519 point"],
  ])("a device signing key that is %s is refused with INVALID_ARGUMENT", async (_, key, message) => {
    const req = { ...registerRequest(newDevice(), uniqueCyphrId()), deviceSigningKey: key };
    await expectRpcError(client().register(req), Code.InvalidArgument, message);
  });

  it.each([0, 63, 65])("a device certificate of %i bytes is refused with INVALID_ARGUMENT", async (length) => {
    const req = { ...registerRequest(newDevice(), uniqueCyphrId()), deviceCertificate: new Uint8Array(length) };
    await expectRpcError(client().register(req), Code.InvalidArgument, `device_certificate must be 64 bytes, got ${length}`);
  });

  it("a certificate for device id 2, for another key or by the device key itself does not verify: INVALID_ARGUMENT, and nothing is stored", async () => {
    const device = newDevice();
    const cyphrId = uniqueCyphrId();
    const good = registerRequest(device, cyphrId);
    const otherKey = newDevice().deviceSigningKey;
    const bad = [
      deviceCertificate(device, cyphrId, 2, device.deviceSigningKey),
      deviceCertificate(device, cyphrId, 1, otherKey),
      deviceCertificate({ identitySecretKey: device.deviceSecretKey }, cyphrId, 1, device.deviceSigningKey),
    ];
    for (const certificate of bad) {
      await expectRpcError(client().register({ ...good, deviceCertificate: certificate }), Code.InvalidArgument, "device_certificate does not verify");
    }
    expect(await client().checkAvailability({ cyphrId })).toMatchObject({ available: true });
    expect((await client().register(good)).deviceId).toBe(1);
  });

  it("an encrypted device name over 256 bytes is refused with INVALID_ARGUMENT", async () => {
    const req = { ...registerRequest(newDevice(), uniqueCyphrId()), deviceEncryptedName: new Uint8Array(257) };
    await expectRpcError(client().register(req), Code.InvalidArgument, "device_encrypted_name must be at most 256 bytes, got 257");
  });
});

describe("display_name", () => {
  async function registeredDisplayName(displayName: string): Promise<string> {
    const { cyphrId } = await registerUser(client(), undefined, displayName);
    return (await client().getProfile({ cyphrId })).profile!.displayName;
  }

  it("64 code points are accepted even when each takes two UTF-16 units (emoji)", async () => {
    const name = "😀".repeat(64);
    expect(name.length).toBe(128);
    expect(await registeredDisplayName(name)).toBe(name);
  });

  it("an emoji sequence with zero-width joiners is accepted", async () => {
    expect(await registeredDisplayName("Ada 👩‍💻")).toBe("Ada 👩‍💻");
  });

  it("surrounding white space is trimmed before storing and counting", async () => {
    const name = "b".repeat(64);
    expect(await registeredDisplayName(`  ${name}\t `)).toBe(name);
  });

  it.each([
    ["65 emoji", "😀".repeat(65)],
    ["65 ASCII letters", "a".repeat(65)],
  ])("%s (65 code points) are refused with INVALID_ARGUMENT", async (_, name) => {
    await expectRpcError(
      client().register(registerRequest(newDevice(), uniqueCyphrId(), name)),
      Code.InvalidArgument,
      "display_name must be at most 64 characters",
    );
  });

  it.each([
    ["a NUL", "Al\u0000ice"],
    ["a bell", "Al\u0007ice"],
    ["a line feed inside", "Al\nice"],
    ["a DEL", "Al\u007fice"],
    ["a right-to-left override U+202E", "Alice\u202Etxt.exe"],
    ["a left-to-right isolate U+2066", "Al\u2066ice"],
    ["a line separator U+2028", "Al\u2028ice"],
  ])("a name with %s is refused with INVALID_ARGUMENT", async (_, name) => {
    await expectRpcError(
      client().register(registerRequest(newDevice(), uniqueCyphrId(), name)),
      Code.InvalidArgument,
      "display_name must not contain control characters, invisible characters or bidirectional overrides",
    );
  });
});

describe("concurrent registration of one id", () => {
  it("of 8 simultaneous registrations exactly one succeeds, the others get ALREADY_EXISTS, and one row is stored", async () => {
    const cyphrId = uniqueCyphrId("race");
    const devices = Array.from({ length: 8 }, () => newDevice());
    // One client per call, so that the requests travel on separate connections.
    const results = await Promise.allSettled(devices.map((device) => identityClient("grpc", server.baseUrl).register(registerRequest(device, cyphrId))));

    const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ device: devices[i]!, ...r.value }] : []));
    expect(winners).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") {
        await expectRpcError(Promise.reject(r.reason), Code.AlreadyExists, `cyphr_id "${cyphrId}" is already taken`);
      }
    }

    const rows = await queryDatabase<{ id: string; identity_public_key: Buffer; sessions: string }>(
      server.databaseUrl,
      `SELECT i.id, i.identity_public_key, (SELECT count(*) FROM sessions s WHERE s.user_id = i.id) AS sessions
       FROM identities i WHERE cyphr_id = $1`,
      [cyphrId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(winners[0]!.userId);
    expect(new Uint8Array(rows[0]!.identity_public_key)).toEqual(winners[0]!.device.identityPublicKey);
    expect(Number(rows[0]!.sessions)).toBe(1);
  });
});

describe("device fingerprint storage", () => {
  it("stores a 32-byte keyed hash of the fingerprint, never the fingerprint itself", async () => {
    const user = await registerUser(client());
    const raw = Buffer.from(user.device.fingerprint);
    // Per device: device 1's row holds the keyed hash.
    const [row] = await queryDatabase<{ fingerprint_hmac: Buffer; whole_row: string }>(
      server.databaseUrl,
      "SELECT fingerprint_hmac, d::text AS whole_row FROM devices d WHERE user_id = $1 AND device_id = 1",
      [user.userId],
    );
    expect(row!.fingerprint_hmac).toHaveLength(32);
    expect(row!.fingerprint_hmac.equals(raw)).toBe(false);
    // Keyed: not a plain hash that anyone holding the fingerprint could recompute.
    expect(row!.fingerprint_hmac.equals(createHash("sha256").update(raw).digest())).toBe(false);
    // bytea columns render as \x<hex> in the row's text form.
    expect(row!.whole_row).not.toContain(raw.toString("hex"));
  });
});
