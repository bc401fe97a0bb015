import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginRequest, newDevice, type RegisteredUser, registerUser, uniqueCyphrId } from "./helpers/users.js";
import { identityClientOver, WIRES } from "./helpers/wires.js";

/** CreateChallenge and Login: signing in a registered device with a single-use nonce. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const client = () => identityClient("connect", server.baseUrl);
const INVALID_CREDENTIALS = "invalid login credentials";

async function nonceFor(cyphrId: string): Promise<Uint8Array> {
  return (await client().createChallenge({ cyphrId })).nonce;
}

/** Moves a nonce's expiry to `expression`, e.g. "now() - interval '1 second'". */
async function setNonceExpiry(nonce: Uint8Array, expression: string): Promise<void> {
  await queryDatabase(server.databaseUrl, `UPDATE login_challenges SET expires_at = ${expression} WHERE nonce = $1`, [Buffer.from(nonce)]);
}

/** Login must fail with exactly this message, whatever the cause, so that causes cannot be told apart. */
async function expectInvalidCredentials(call: Promise<unknown>): Promise<void> {
  const error = await expectRpcError(call, Code.Unauthenticated, INVALID_CREDENTIALS);
  expect(error.rawMessage).toBe(INVALID_CREDENTIALS);
}

describe.each(WIRES)("CreateChallenge and Login over $name", (wire) => {
  it("CreateChallenge issues a 32-byte nonce valid for 60 seconds", async () => {
    const before = Date.now();
    const res = await identityClientOver(wire, server.baseUrl).createChallenge({ cyphrId: uniqueCyphrId() });
    expect(res.nonce).toHaveLength(32);
    const expiresAtMs = Number(res.expiresAt!.seconds) * 1000 + res.expiresAt!.nanos / 1e6;
    expect(expiresAtMs).toBeGreaterThanOrEqual(before + 59_000);
    expect(expiresAtMs).toBeLessThanOrEqual(Date.now() + 61_000);
  });

  it("Login with a signed nonce starts a new session for the registered device", async () => {
    const rpc = identityClientOver(wire, server.baseUrl);
    const user = await registerUser(rpc);
    const { nonce } = await rpc.createChallenge({ cyphrId: user.cyphrId });
    const res = await rpc.login(loginRequest(user.device, user.cyphrId, nonce));

    expect(res.userId).toBe(user.userId);
    expect(res.session!.sessionId).not.toBe(user.sessionId);
    expect(res.session!.refreshToken).not.toBe(user.refreshToken);
    // The new access token authenticates.
    const authed = identityClientOver(wire, server.baseUrl, { token: res.session!.accessToken });
    const found = await authed.searchUsers({ prefix: user.cyphrId });
    expect(found.profiles.map((p) => p.cyphrId)).toEqual([user.cyphrId]);
  });

  it("Login with a wrong signature fails with UNAUTHENTICATED", async () => {
    const rpc = identityClientOver(wire, server.baseUrl);
    const user = await registerUser(rpc);
    const { nonce } = await rpc.createChallenge({ cyphrId: user.cyphrId });
    const req = loginRequest(user.device, user.cyphrId, nonce);
    await expectInvalidCredentials(rpc.login({ ...req, signature: new Uint8Array(64) }));
  });
});

describe("CreateChallenge", () => {
  it("gives a nonce for an id nobody registered, so it does not reveal which accounts exist", async () => {
    const res = await client().createChallenge({ cyphrId: uniqueCyphrId("ghost") });
    expect(res.nonce).toHaveLength(32);
  });

  it("gives a different nonce every time", async () => {
    const cyphrId = uniqueCyphrId();
    const a = await nonceFor(cyphrId);
    const b = await nonceFor(cyphrId);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it("refuses a malformed cyphr_id with INVALID_ARGUMENT", async () => {
    await expectRpcError(client().createChallenge({ cyphrId: "No Such Format" }), Code.InvalidArgument, "cyphr_id must match");
  });
});

describe("Login credential failures are indistinguishable", () => {
  let user: RegisteredUser;
  beforeAll(async () => {
    user = await registerUser(client());
  });

  it("an unknown id gets a nonce, but Login fails UNAUTHENTICATED 'invalid login credentials'", async () => {
    const cyphrId = uniqueCyphrId("ghost");
    const device = newDevice();
    await expectInvalidCredentials(client().login(loginRequest(device, cyphrId, await nonceFor(cyphrId))));
  });

  it("a nonce works once: replaying it after a successful login fails with the same message", async () => {
    const nonce = await nonceFor(user.cyphrId);
    const req = loginRequest(user.device, user.cyphrId, nonce);
    expect((await client().login(req)).userId).toBe(user.userId);
    await expectInvalidCredentials(client().login(req));
  });

  it("a nonce is spent by a failed attempt too: a correct login with it afterwards fails", async () => {
    const nonce = await nonceFor(user.cyphrId);
    const good = loginRequest(user.device, user.cyphrId, nonce);
    await expectInvalidCredentials(client().login({ ...good, signature: new Uint8Array(64) }));
    await expectInvalidCredentials(client().login(good));
  });

  it("an expired nonce fails with the same message", async () => {
    const nonce = await nonceFor(user.cyphrId);
    await setNonceExpiry(nonce, "now() - interval '1 second'");
    await expectInvalidCredentials(client().login(loginRequest(user.device, user.cyphrId, nonce)));
  });

  it("a nonce that is about to expire (but has not) still works", async () => {
    const nonce = await nonceFor(user.cyphrId);
    await setNonceExpiry(nonce, "now() + interval '5 seconds'");
    expect((await client().login(loginRequest(user.device, user.cyphrId, nonce))).userId).toBe(user.userId);
  });

  it("a nonce issued for another cyphr_id fails with the same message, even when correctly signed", async () => {
    const other = await registerUser(client());
    const foreignNonce = await nonceFor(other.cyphrId);
    await expectInvalidCredentials(client().login(loginRequest(user.device, user.cyphrId, foreignNonce)));
  });

  it("a nonce the server never issued fails with the same message", async () => {
    const madeUp = new Uint8Array(randomBytes(32));
    await expectInvalidCredentials(client().login(loginRequest(user.device, user.cyphrId, madeUp)));
  });

  it("a signature by another key fails with the same message", async () => {
    const nonce = await nonceFor(user.cyphrId);
    const impostor = { ...user.device, deviceSecretKey: newDevice().deviceSecretKey };
    await expectInvalidCredentials(client().login(loginRequest(impostor, user.cyphrId, nonce)));
  });

  it("a signature over another nonce fails with the same message", async () => {
    const nonce = await nonceFor(user.cyphrId);
    const signedOther = loginRequest(user.device, user.cyphrId, await nonceFor(user.cyphrId));
    await expectInvalidCredentials(client().login({ ...signedOther, nonce }));
  });
});

describe("Login is per device", () => {
  it("a signature by the account's identity key (not the device key) fails with the same message", async () => {
    const user = await registerUser(client());
    const nonce = await nonceFor(user.cyphrId);
    const byIdentityKey = { ...user.device, deviceSecretKey: user.device.identitySecretKey };
    await expectInvalidCredentials(client().login(loginRequest(byIdentityKey, user.cyphrId, nonce)));
  });

  it("a correctly signed login for a device id the account does not have fails with the same message", async () => {
    const user = await registerUser(client());
    const nonce = await nonceFor(user.cyphrId);
    // Signed by device 1's key over device_id 2: the signature is right for those bytes, the device does not exist.
    await expectInvalidCredentials(client().login(loginRequest(user.device, user.cyphrId, nonce, 2)));
  });

  it("a login signed for device 1 but sent as device 2 fails with the same message (the id is signed)", async () => {
    const user = await registerUser(client());
    const nonce = await nonceFor(user.cyphrId);
    const req = loginRequest(user.device, user.cyphrId, nonce);
    await expectInvalidCredentials(client().login({ ...req, deviceId: 2 }));
  });

  it("the session's access token names the device (did claim) and Login answers with it", async () => {
    const user = await registerUser(client());
    const nonce = await nonceFor(user.cyphrId);
    const res = await client().login(loginRequest(user.device, user.cyphrId, nonce));
    expect(res.deviceId).toBe(1);
    const claims = JSON.parse(Buffer.from(res.session!.accessToken.split(".")[1]!, "base64url").toString("utf8"));
    expect(claims.did).toBe(1);
    const [row] = await queryDatabase<{ device_id: number }>(server.databaseUrl, "SELECT device_id FROM sessions WHERE id = $1", [res.session!.sessionId]);
    expect(row!.device_id).toBe(1);
  });
});

describe("Login field validation", () => {
  it.each([
    ["device_id", { deviceId: 0 }, "device_id must be between 1 and 2147483647, got 0"],
    ["nonce", { nonce: new Uint8Array(16) }, "nonce must be 32 bytes, got 16"],
    ["signature", { signature: new Uint8Array(63) }, "signature must be 64 bytes, got 63"],
    ["cyphr_id", { cyphrId: "UPPER" }, "cyphr_id must match"],
  ])("a malformed %s is refused with INVALID_ARGUMENT", async (_, override, message) => {
    const cyphrId = uniqueCyphrId();
    const req = { ...loginRequest(newDevice(), cyphrId, new Uint8Array(32)), ...override };
    await expectRpcError(client().login(req), Code.InvalidArgument, message);
  });
});
