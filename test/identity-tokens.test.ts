import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdentityService } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { identityClient } from "./helpers/clients.js";
import { type AccessClaims, jwtSegment, type SigningKey, serverSigningKey, signAccessToken } from "./helpers/jwt.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { newDevice, type RegisteredUser, registerRequest, registerUser, uniqueCyphrId } from "./helpers/users.js";
import { identityClientOver, WIRES } from "./helpers/wires.js";

/** Access tokens: what they contain, and which ones an authenticated RPC refuses. */

let server: TestServer;
let signingKey: SigningKey;
let user: RegisteredUser;
beforeAll(async () => {
  server = await startTestServer();
  signingKey = await serverSigningKey(server.dataDir);
  user = await registerUser(identityClient("connect", server.baseUrl));
});
afterAll(() => server.close());

const INVALID_TOKEN = "invalid or expired access token";
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims of a token for `user`'s live session. */
const claimsOf = (u: RegisteredUser): AccessClaims => ({ sub: u.userId, cyphr_id: u.cyphrId, sid: u.sessionId });

/** SearchUsers (authenticated) with `authorization` set to exactly `header`, or absent when undefined. */
function searchWithHeader(header: string | undefined) {
  const transport = createConnectTransport({
    baseUrl: server.baseUrl,
    httpVersion: "2",
    interceptors: [
      (next) => (req) => {
        if (header !== undefined) req.header.set("authorization", header);
        return next(req);
      },
    ],
  });
  return createClient(IdentityService, transport).searchUsers({ prefix: user.cyphrId });
}

const searchWithToken = (token: string) => searchWithHeader(`Bearer ${token}`);

describe.each(WIRES)("an authenticated RPC over $name", (wire) => {
  it("succeeds with the access token from Register", async () => {
    const res = await identityClientOver(wire, server.baseUrl, { token: user.accessToken }).searchUsers({ prefix: user.cyphrId });
    expect(res.profiles.map((p) => p.userId)).toEqual([user.userId]);
  });

  it("fails UNAUTHENTICATED without a token", async () => {
    const call = identityClientOver(wire, server.baseUrl).searchUsers({ prefix: user.cyphrId });
    await expectRpcError(call, Code.Unauthenticated, "missing authorization");
  });

  it("fails UNAUTHENTICATED with a token whose signature does not match", async () => {
    const [header, payload, signature] = user.accessToken.split(".");
    const forged = `${header}.${payload}.${signature!.startsWith("A") ? "B" : "A"}${signature!.slice(1)}`;
    const rpc = identityClientOver(wire, server.baseUrl, { token: forged });
    await expectRpcError(rpc.searchUsers({ prefix: user.cyphrId }), Code.Unauthenticated, INVALID_TOKEN);
  });
});

describe("the access token", () => {
  it("is an EdDSA JWT with kid, iss, aud, sub, cyphr_id, sid, iat and exp 15 minutes ahead", async () => {
    const cyphrId = uniqueCyphrId();
    const res = await identityClient("connect", server.baseUrl).register(registerRequest(newDevice(), cyphrId));
    const session = res.session!;

    const header = decodeProtectedHeader(session.accessToken);
    expect(header).toEqual({ alg: "EdDSA", typ: "JWT", kid: signingKey.kid });

    const claims = decodeJwt(session.accessToken);
    expect(claims).toMatchObject({ iss: "cyphr", aud: "cyphr", sub: res.userId, cyphr_id: cyphrId, sid: session.sessionId, did: 1 });
    expect(Math.abs(claims.iat! - nowSeconds())).toBeLessThanOrEqual(5);
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(Math.abs(claims.exp! - (nowSeconds() + 900))).toBeLessThanOrEqual(5);
    expect(Number(session.accessTokenExpiresAt!.seconds)).toBe(claims.exp);
  });

  // The control for the refusals below: each of them differs from this token only by the flaw it names.
  it("minted by a test with the server's own key for a live session is accepted", async () => {
    const now = nowSeconds();
    const claims = { ...claimsOf(user), iat: now - 10, exp: now + 600 };
    const token = await signAccessToken(signingKey.privateKey, signingKey.kid, claims);
    expect(token).not.toBe(user.accessToken); // not a copy of a token the server issued
    expect((await searchWithToken(token)).profiles.map((p) => p.userId)).toEqual([user.userId]);
  });
});

describe("the authorization header", () => {
  it.each([
    ["missing", undefined, "missing authorization"],
    ["another scheme ('Basic x')", "Basic x", "malformed authorization header"],
    ["'Bearer' alone", "Bearer", "malformed authorization header"],
    ["'Bearer ' with nothing after it", "Bearer ", "malformed authorization header"],
    ["a token without the 'Bearer' scheme", "TOKEN", "malformed authorization header"],
    ["a token that is not three dot-separated segments", "Bearer abc.def", "malformed authorization header"],
  ])("%s fails UNAUTHENTICATED", async (_, header, message) => {
    const value = header === "TOKEN" ? user.accessToken : header;
    await expectRpcError(searchWithHeader(value), Code.Unauthenticated, message);
  });
  it("accepts the scheme name in any case (RFC 7235), e.g. 'bearer <token>'", async () => {
    const res = await searchWithHeader(`bearer ${user.accessToken}`);
    expect(res.profiles.map((p) => p.userId)).toEqual([user.userId]);
  });
});

describe("access tokens that are refused with UNAUTHENTICATED", () => {
  it("a token whose payload was changed after signing (sub swapped to another user)", async () => {
    const victim = await registerUser(identityClient("connect", server.baseUrl));
    const [header, payload, signature] = user.accessToken.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as Record<string, unknown>;
    const tampered = `${header}.${jwtSegment({ ...claims, sub: victim.userId, cyphr_id: victim.cyphrId })}.${signature}`;
    await expectRpcError(searchWithToken(tampered), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("a token with one payload character flipped", async () => {
    const [header, payload, signature] = user.accessToken.split(".");
    const i = Math.floor(payload!.length / 2);
    const flipped = payload!.slice(0, i) + (payload![i] === "A" ? "B" : "A") + payload!.slice(i + 1);
    await expectRpcError(searchWithToken(`${header}.${flipped}.${signature}`), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("an unsigned token (alg: none) with valid-looking claims", async () => {
    const now = nowSeconds();
    const claims = { ...claimsOf(user), iss: "cyphr", aud: "cyphr", iat: now, exp: now + 900 };
    const token = `${jwtSegment({ alg: "none", typ: "JWT" })}.${jwtSegment(claims)}.`;
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("an unsigned token (alg: none) that names the server's kid", async () => {
    const now = nowSeconds();
    const claims = { ...claimsOf(user), iss: "cyphr", aud: "cyphr", iat: now, exp: now + 900 };
    const token = `${jwtSegment({ alg: "none", typ: "JWT", kid: signingKey.kid })}.${jwtSegment(claims)}.`;
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("an expired token signed with the server's key", async () => {
    const now = nowSeconds();
    const claims = { ...claimsOf(user), iat: now - 960, exp: now - 60 };
    const token = await signAccessToken(signingKey.privateKey, signingKey.kid, claims);
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("a token that was accepted while valid is refused once it expires (verified tokens are not remembered past exp)", async () => {
    // exp 2 s ahead, plus the server's 5 s clock tolerance: accepted now, refused after 7 s.
    const now = nowSeconds();
    const token = await signAccessToken(signingKey.privateKey, signingKey.kid, { ...claimsOf(user), iat: now, exp: now + 2 });
    await expect(searchWithToken(token)).resolves.toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, (now + 2 + 5 + 1) * 1000 - Date.now()));
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  }, 15_000);

  it("a token signed by another Ed25519 key under the server's kid", async () => {
    const { privateKey } = await generateKeyPair("EdDSA");
    const token = await signAccessToken(privateKey, signingKey.kid, claimsOf(user));
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("a token signed with HS256, keyed with the server's public key, under the server's kid", async () => {
    const now = nowSeconds();
    const token = await new SignJWT({ cyphr_id: user.cyphrId, sid: user.sessionId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: signingKey.kid })
      .setIssuer("cyphr")
      .setAudience("cyphr")
      .setSubject(user.userId)
      .setIssuedAt(now)
      .setExpirationTime(now + 900)
      .sign(signingKey.publicKey);
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("a token with an unknown kid", async () => {
    const token = await signAccessToken(signingKey.privateKey, "not-a-known-kid", claimsOf(user));
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it.each([
    ["audience", { aud: "someone-else" }],
    ["issuer", { iss: "someone-else" }],
  ])("a token for another %s, signed with the server's key", async (_, override) => {
    const token = await signAccessToken(signingKey.privateKey, signingKey.kid, { ...claimsOf(user), ...override });
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it.each([
    ["without a did (device) claim, as issued before devices existed", { did: null }],
    ["with a did that is not a positive integer", { did: 0 }],
  ])("a correctly signed token %s", async (_, override) => {
    const token = await signAccessToken(signingKey.privateKey, signingKey.kid, { ...claimsOf(user), ...override });
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, INVALID_TOKEN);
  });

  it("a correctly signed token for a session that does not exist", async () => {
    const token = await signAccessToken(signingKey.privateKey, signingKey.kid, { ...claimsOf(user), sid: crypto.randomUUID() });
    await expectRpcError(searchWithToken(token), Code.Unauthenticated, "session has been revoked or has expired");
  });
});

describe("public methods", () => {
  it("CheckAvailability, CreateChallenge and GetProfile work without a token", async () => {
    const rpc = identityClient("connect", server.baseUrl);
    expect((await rpc.checkAvailability({ cyphrId: uniqueCyphrId() })).available).toBe(true);
    expect((await rpc.createChallenge({ cyphrId: user.cyphrId })).nonce).toHaveLength(32);
    expect((await rpc.getProfile({ cyphrId: user.cyphrId })).profile!.userId).toBe(user.userId);
  });

  it("ignore an invalid token instead of refusing the call", async () => {
    const rpc = identityClient("connect", server.baseUrl, { token: "a.b.c" });
    expect((await rpc.getProfile({ cyphrId: user.cyphrId })).profile!.userId).toBe(user.userId);
  });

  it("GetProfile of an unknown id fails NOT_FOUND", async () => {
    const cyphrId = uniqueCyphrId("nobody");
    const call = identityClient("connect", server.baseUrl).getProfile({ cyphrId });
    await expectRpcError(call, Code.NotFound, `no user with cyphr_id "${cyphrId}"`);
  });
});
