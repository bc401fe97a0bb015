import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient, PROTOCOLS } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { registerUser, loginRequest } from "./helpers/users.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe.each(PROTOCOLS)("identity over %s", (protocol) => {
  it("registers, logs in with a signed challenge and reads the profile", async () => {
    const client = identityClient(protocol, server.baseUrl);
    const user = await registerUser(client, undefined, "Alice");
    const challenge = await client.createChallenge({ cyphrId: user.cyphrId });
    const login = await client.login(loginRequest(user.device, user.cyphrId, challenge.nonce));
    expect(login.userId).toBe(user.userId);
    const { profile } = await client.getProfile({ cyphrId: user.cyphrId });
    expect(profile?.displayName).toBe("Alice");
    expect(new Uint8Array(profile!.identityPublicKey)).toEqual(user.device.identityPublicKey);
  });
});
