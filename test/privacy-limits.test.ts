import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { identityClient } from "./helpers/clients.js";
import { participants } from "./helpers/messaging.js";
import { closeAllStreams, grpcJsConnect } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { registerUser } from "./helpers/users.js";

/** Limits that hold across instances: two servers on one database share every bucket. */

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  const env = { RATE_LIMIT_SEARCH_USERS: "60/2", RATE_LIMIT_REGISTER: "1/4", RATE_LIMIT_TYPING: "60/2", RATE_LIMIT_LOGIN_ACCOUNT: "60/2" };
  a = await startTestServer({ env });
  b = await startTestServer({ env, databaseUrl: a.databaseUrl, dataDir: a.dataDir });
});
afterAll(async () => {
  await closeAllStreams();
  await b?.close();
  await a?.close();
});

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const error = await expectRpcError(call, Code.ResourceExhausted, /rate limit exceeded; retry in \d+ ms$/);
  expect(Number(error.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
  return error;
}

describe("Shared rate limits", () => {
  it("SearchUsers: the burst is spent across both instances, then RESOURCE_EXHAUSTED with retry-after", async () => {
    const user = await registerUser(identityClient("connect", a.baseUrl));
    const on = (server: TestServer) => identityClient("grpc", server.baseUrl, { token: user.accessToken }).searchUsers({ prefix: user.cyphrId });
    await on(a);
    await on(b);
    const error = await refusal(on(a));
    expect(error.rawMessage).toMatch(/^search_users rate limit exceeded/);
    expect(Number(error.metadata.get("retry-after-ms"))).toBeLessThanOrEqual(1000);
    // Another caller has a bucket of their own.
    const other = await registerUser(identityClient("connect", b.baseUrl));
    await identityClient("grpc", a.baseUrl, { token: other.accessToken }).searchUsers({ prefix: other.cyphrId });
  });

  it("Login is limited per Cyphr ID tried, whichever instance is asked", async () => {
    const cyphrId = "limited_login_target";
    const login = (server: TestServer) =>
      identityClient("grpc", server.baseUrl).login({ cyphrId, deviceId: 1, nonce: new Uint8Array(32), signature: new Uint8Array(64) });
    await expectRpcError(login(a), Code.Unauthenticated, /./);
    await expectRpcError(login(b), Code.Unauthenticated, /./);
    await refusal(login(a));
  });

  it("typing frames are limited per caller", async () => {
    const [alice, bob] = await participants(b.baseUrl, 2);
    const { chatId } = await alice.messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: bob.cyphrId },
      clientMessageId: crypto.randomUUID(),
      payload: { ciphertext: new Uint8Array([1]), nonce: new Uint8Array(12), tag: new Uint8Array(16) },
      messageType: 1,
    });
    const stream = grpcJsConnect(a.baseUrl, alice.accessToken);
    await stream.caughtUp();
    for (const id of ["t1", "t2", "t3"]) stream.send({ requestId: id, frame: { case: "typing", value: { chatId, typing: true } } });
    const { value } = await stream.take("frameError", (e) => e.requestId === "t3");
    expect(value.error).toMatchObject({ code: Code.ResourceExhausted });
    expect(stream.all("frameError").map((e) => e.value.requestId)).toEqual(["t3"]);
  });

  it("Register is limited per source address (RATE_LIMIT_REGISTER)", async () => {
    // Earlier tests registered from this address already: four accounts, the whole burst of 4.
    await refusal(registerUser(identityClient("connect", a.baseUrl)));
  });

  it("RATE_LIMIT_* values are checked at start", () => {
    expect(() => loadConfig({ RATE_LIMIT_TYPING: "fast" })).toThrow(/RATE_LIMIT_TYPING must be "<per minute>\/<burst>"/);
    expect(loadConfig({ RATE_LIMIT_TYPING: "120/7" }).rateLimits.typing).toEqual({ name: "typing", ratePerSecond: 2, burst: 7 });
  });
});
