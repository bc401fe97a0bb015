import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginUser, type RegisteredUser, registerUser } from "./helpers/users.js";
import { identityClientOver, WIRES } from "./helpers/wires.js";

/** RefreshSession and Logout: rotation, reuse detection and revocation. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const client = () => identityClient("connect", server.baseUrl);
const REVOKED = "session has been revoked or has expired";
const REFUSED_REFRESH = "invalid or expired refresh token";
const REUSED_REFRESH = "refresh token was already used; the session has been revoked";

/** An authenticated call that succeeds exactly when the access token is accepted. */
function searchWith(accessToken: string, user: RegisteredUser) {
  return identityClient("connect", server.baseUrl, { token: accessToken }).searchUsers({ prefix: user.cyphrId });
}

async function revokeReason(sessionId: string): Promise<string | null> {
  const [row] = await queryDatabase<{ revoke_reason: string | null }>(server.databaseUrl, "SELECT revoke_reason FROM sessions WHERE id = $1", [sessionId]);
  return row!.revoke_reason;
}

/** Moves a session's expiry (the refresh window) to `expression`, e.g. "now() - interval '1 second'". */
async function setSessionExpiry(sessionId: string, expression: string): Promise<void> {
  await queryDatabase(server.databaseUrl, `UPDATE sessions SET expires_at = ${expression} WHERE id = $1`, [sessionId]);
}

describe.each(WIRES)("RefreshSession and Logout over $name", (wire) => {
  it("RefreshSession returns new tokens for the same session", async () => {
    const rpc = identityClientOver(wire, server.baseUrl);
    const user = await registerUser(rpc);
    const { session } = await rpc.refreshSession({ refreshToken: user.refreshToken });

    expect(session!.sessionId).toBe(user.sessionId);
    expect(session!.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session!.refreshToken).not.toBe(user.refreshToken);
    const authed = identityClientOver(wire, server.baseUrl, { token: session!.accessToken });
    const found = await authed.searchUsers({ prefix: user.cyphrId });
    expect(found.profiles).toHaveLength(1);
  });

  it("Logout revokes the caller's session", async () => {
    const user = await registerUser(identityClientOver(wire, server.baseUrl));
    const authed = identityClientOver(wire, server.baseUrl, { token: user.accessToken });
    await authed.logout({});
    await expectRpcError(authed.searchUsers({ prefix: user.cyphrId }), Code.Unauthenticated, REVOKED);
  });
});

describe("refresh token rotation", () => {
  it("the new refresh token works and the one it replaced does not", async () => {
    const user = await registerUser(client());
    const first = await client().refreshSession({ refreshToken: user.refreshToken });
    const second = await client().refreshSession({ refreshToken: first.session!.refreshToken });
    expect(second.session!.sessionId).toBe(user.sessionId);

    await expectRpcError(client().refreshSession({ refreshToken: user.refreshToken }), Code.Unauthenticated, REUSED_REFRESH);
  });

  it("presenting a rotated token revokes the whole session: even the newest refresh token and access token are refused", async () => {
    const user = await registerUser(client());
    const { session: current } = await client().refreshSession({ refreshToken: user.refreshToken });
    expect((await searchWith(current!.accessToken, user)).profiles).toHaveLength(1);

    // Someone replays the old token (it was stolen, or the legitimate client is the one replaying).
    await expectRpcError(client().refreshSession({ refreshToken: user.refreshToken }), Code.Unauthenticated, REUSED_REFRESH);

    await expectRpcError(client().refreshSession({ refreshToken: current!.refreshToken }), Code.Unauthenticated, REFUSED_REFRESH);
    await expectRpcError(searchWith(current!.accessToken, user), Code.Unauthenticated, REVOKED);
    await expectRpcError(searchWith(user.accessToken, user), Code.Unauthenticated, REVOKED);
    expect(await revokeReason(user.sessionId)).toBe("refresh_token_reuse");
  });

  it("reuse revokes only that session: the user's other sessions keep working", async () => {
    const user = await registerUser(client());
    const other = await loginUser(client(), user);
    await client().refreshSession({ refreshToken: user.refreshToken });
    await expectRpcError(client().refreshSession({ refreshToken: user.refreshToken }), Code.Unauthenticated, REUSED_REFRESH);

    expect((await searchWith(other.accessToken, user)).profiles).toHaveLength(1);
    expect((await client().refreshSession({ refreshToken: other.refreshToken })).session!.sessionId).toBe(other.sessionId);
  });

  it("an access token issued before a refresh stays valid until the session ends", async () => {
    const user = await registerUser(client());
    await client().refreshSession({ refreshToken: user.refreshToken });
    expect((await searchWith(user.accessToken, user)).profiles).toHaveLength(1);
  });

  it("a refresh token the server never issued is refused with UNAUTHENTICATED", async () => {
    await expectRpcError(client().refreshSession({ refreshToken: "A".repeat(43) }), Code.Unauthenticated, REFUSED_REFRESH);
    await expectRpcError(client().refreshSession({ refreshToken: "" }), Code.Unauthenticated, REFUSED_REFRESH);
  });

  it("a refresh token whose session has expired is refused, and so is the session's access token", async () => {
    const user = await registerUser(client());
    await setSessionExpiry(user.sessionId, "now() - interval '1 second'");
    await expectRpcError(client().refreshSession({ refreshToken: user.refreshToken }), Code.Unauthenticated, REFUSED_REFRESH);
    await expectRpcError(searchWith(user.accessToken, user), Code.Unauthenticated, REVOKED);
  });

  it("refreshing moves the session's expiry forward by the refresh token lifetime", async () => {
    const user = await registerUser(client());
    await setSessionExpiry(user.sessionId, "now() + interval '1 hour'");
    const { session } = await client().refreshSession({ refreshToken: user.refreshToken });
    const expiresAtMs = Number(session!.refreshTokenExpiresAt!.seconds) * 1000;
    expect(Math.abs(expiresAtMs - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
    const [row] = await queryDatabase<{ expires_at: Date }>(server.databaseUrl, "SELECT expires_at FROM sessions WHERE id = $1", [user.sessionId]);
    expect(Math.abs(row!.expires_at.getTime() - expiresAtMs)).toBeLessThan(1000);
  });

  it("only hashes of refresh tokens are stored", async () => {
    const user = await registerUser(client());
    const rows = await queryDatabase<{ token_hash: Buffer }>(server.databaseUrl, "SELECT token_hash FROM refresh_tokens WHERE session_id = $1", [
      user.sessionId,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toHaveLength(32);
    expect(rows[0]!.token_hash.toString("base64url")).not.toBe(user.refreshToken);
    expect(rows[0]!.token_hash.equals(Buffer.from(user.refreshToken, "base64url"))).toBe(false);
  });
});

describe("Logout", () => {
  it("refuses the session's access token and refresh token afterwards", async () => {
    const user = await registerUser(client());
    await identityClient("connect", server.baseUrl, { token: user.accessToken }).logout({});

    await expectRpcError(searchWith(user.accessToken, user), Code.Unauthenticated, REVOKED);
    await expectRpcError(client().refreshSession({ refreshToken: user.refreshToken }), Code.Unauthenticated, REFUSED_REFRESH);
    expect(await revokeReason(user.sessionId)).toBe("logout");
  });

  it("leaves the user's other sessions working", async () => {
    const user = await registerUser(client());
    const phone = await loginUser(client(), user);
    await identityClient("connect", server.baseUrl, { token: user.accessToken }).logout({});

    expect((await searchWith(phone.accessToken, user)).profiles).toHaveLength(1);
    const { session } = await client().refreshSession({ refreshToken: phone.refreshToken });
    expect(session!.sessionId).toBe(phone.sessionId);
  });

  it("requires an access token", async () => {
    await expectRpcError(client().logout({}), Code.Unauthenticated, "missing authorization");
  });

  it("a second Logout with the same token is refused, the session being gone", async () => {
    const user = await registerUser(client());
    const authed = identityClient("connect", server.baseUrl, { token: user.accessToken });
    await authed.logout({});
    await expectRpcError(authed.logout({}), Code.Unauthenticated, REVOKED);
  });
});
