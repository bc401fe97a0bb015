import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AccountService } from "../src/gen/cyphr/account/v1/account_pb.js";
import { accountClient } from "./helpers/account.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { codeName } from "./helpers/inbox.js";
import { participants } from "./helpers/messaging.js";
import { closeAllStreams, grpcJsConnect, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginUser } from "./helpers/users.js";
import { WIRES } from "./helpers/wires.js";

/** ListSessions, RevokeSession and RevokeOtherSessions. */

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer({ databaseUrl: a.databaseUrl, dataDir: a.dataDir });
});
afterEach(closeAllStreams);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const today = () => new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);

describe.each(WIRES)("sessions over $name", (wire) => {
  it("ListSessions shows every active session of the account with its device, start and the day of last use, marking the caller's", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const second = await loginUser(identityClient("connect", a.baseUrl), alice);
    const account = clientFor(AccountService, wire.protocol, a.baseUrl, { token: second.accessToken, httpVersion: wire.httpVersion });
    const { sessions } = await account.listSessions({});
    expect(sessions.map((s) => s.sessionId).sort()).toEqual([alice.sessionId, second.sessionId].sort());
    for (const s of sessions) {
      expect(s.deviceId).toBe(1);
      expect(s.lastUsedDate!.seconds).toBe(BigInt(today().getTime() / 1000));
      expect(Math.abs(Number(s.createdAt!.seconds) * 1000 - Date.now())).toBeLessThan(60_000);
      expect(s.current).toBe(s.sessionId === second.sessionId);
    }
  });

  it("RevokeSession refuses a malformed id, an unknown one and another account's session, and revokes one of the caller's", async () => {
    const [alice, bob] = await participants(a.baseUrl, 2);
    const other = await loginUser(identityClient("connect", a.baseUrl), alice);
    const account = clientFor(AccountService, wire.protocol, a.baseUrl, { token: alice.accessToken, httpVersion: wire.httpVersion });
    await expectRpcError(account.revokeSession({ sessionId: "nope" }), Code.InvalidArgument, "session_id must be a UUID");
    await expectRpcError(account.revokeSession({ sessionId: crypto.randomUUID() }), Code.NotFound, "no such active session");
    await expectRpcError(account.revokeSession({ sessionId: bob.sessionId }), Code.NotFound, "no such active session");
    await account.revokeSession({ sessionId: other.sessionId });
    await expectRpcError(account.revokeSession({ sessionId: other.sessionId }), Code.NotFound, "no such active session");
    await expectRpcError(accountClient(a.baseUrl, other).listSessions({}), Code.Unauthenticated, "session has been revoked");
    await expectRpcError(identityClient("connect", a.baseUrl).refreshSession({ refreshToken: other.refreshToken }), Code.Unauthenticated, "");
    expect((await account.listSessions({})).sessions.map((s) => s.sessionId)).toEqual([alice.sessionId]);
    // Bob's session is untouched.
    expect((await accountClient(a.baseUrl, bob).listSessions({})).sessions).toHaveLength(1);
  });
});

describe("revocation ends live streams", () => {
  it("RevokeSession ends that session's streams within a second on every instance; the caller's own stream goes on", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const phone = await loginUser(identityClient("connect", a.baseUrl), alice);
    // The phone's token is cached as active on both instances before the revocation.
    await accountClient(a.baseUrl, phone).listSessions({});
    await accountClient(b.baseUrl, phone).listSessions({});
    const onA = grpcJsConnect(a.baseUrl, phone.accessToken, { resumeCursor: 0 });
    const onB = subscribe(b.baseUrl, phone.accessToken, { resumeCursor: 0 });
    const mine = subscribe(b.baseUrl, alice.accessToken, { resumeCursor: 0 });
    for (const stream of [onA, onB, mine]) await stream.caughtUp();

    await accountClient(a.baseUrl, alice).revokeSession({ sessionId: phone.sessionId });

    for (const stream of [onA, onB]) {
      const status = await stream.end(1000);
      expect({ code: codeName(status.code), message: status.message }).toEqual({ code: "UNAUTHENTICATED", message: "session was revoked" });
    }
    for (const server of [a, b]) {
      await expectRpcError(accountClient(server.baseUrl, phone).listSessions({}), Code.Unauthenticated, "session has been revoked");
    }
    expect(mine.isEnded).toBe(false);
  });

  it("RevokeOtherSessions revokes every other session, ends their streams on both instances and keeps the caller's", async () => {
    const [alice] = await participants(a.baseUrl, 1);
    const identity = identityClient("connect", a.baseUrl);
    const others = [await loginUser(identity, alice), await loginUser(identity, alice)];
    const streams = [grpcJsConnect(a.baseUrl, others[0]!.accessToken, { resumeCursor: 0 }), subscribe(b.baseUrl, others[1]!.accessToken, { resumeCursor: 0 })];
    for (const stream of streams) await stream.caughtUp();

    expect((await accountClient(b.baseUrl, alice).revokeOtherSessions({})).revoked).toBe(2);

    for (const stream of streams) expect(codeName((await stream.end(1000)).code)).toBe("UNAUTHENTICATED");
    for (const other of others) await expectRpcError(accountClient(a.baseUrl, other).listSessions({}), Code.Unauthenticated, "session has been revoked");
    expect((await accountClient(a.baseUrl, alice).listSessions({})).sessions.map((s) => s.sessionId)).toEqual([alice.sessionId]);
    expect((await accountClient(a.baseUrl, alice).revokeOtherSessions({})).revoked).toBe(0);
  });

  it("every AccountService call but the recovery ones needs a token", async () => {
    await expectRpcError(accountClient(a.baseUrl).listSessions({}), Code.Unauthenticated, "missing authorization");
    await expectRpcError(accountClient(a.baseUrl).enableTotp({}), Code.Unauthenticated, "missing authorization");
  });
});
