import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MlsDevice } from "../src/sdk/mls/mls-device.js";
import { MemoryStore } from "../src/sdk/store.js";
import { CliHome, type CliUser } from "./helpers/cli.js";
import { identityClient } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { registerUser } from "./helpers/users.js";

describe("cyphr send: a direct chat the other side left half started", () => {
  let server: TestServer;
  let home: CliHome;
  let bob: CliUser;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    bob = home.user("bob");
    await bob.ok(["init", "--server", server.baseUrl]);
    await bob.ok(["register", "bob_ds"]);
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("is finished by the CLI after waiting for the first commit, and both sides read it", async () => {
    // Alice's SDK start is cut off before its first commit reaches the server: the chat exists at epoch 0.
    const alice = await registerUser(identityClient("connect", server.baseUrl));
    let cut = true;
    const killer: Interceptor = (next) => (req) => {
      if (cut && req.method.name === "CommitMlsChat") throw new ConnectError("killed", Code.Canceled);
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", interceptors: [killer] });
    const mls = new MlsDevice(
      transport,
      { accessToken: async () => alice.accessToken },
      { cyphrId: alice.cyphrId, deviceId: alice.device.deviceId, signingSecretKey: alice.device.deviceSecretKey },
      new MemoryStore(),
    );
    await mls.ensureKeyPackages(3);
    await expect(mls.startDirectChat("bob_ds")).rejects.toMatchObject({ code: "canceled" });
    cut = false;

    const sent = await bob.json<{ chatId: string }>(["send", alice.cyphrId, "bob finished the chat"], { timeoutMs: 90_000 });
    await mls.acceptWelcome(sent.chatId);
    expect((await mls.history(sent.chatId)).map((m) => (m.readable ? m.text : m.reason))).toEqual(["bob finished the chat"]);
    await mls.send(sent.chatId, "and alice answers");
    const history = await bob.json<{ messages: { text: string }[] }>(["history", alice.cyphrId]);
    expect(history.messages.map((m) => m.text)).toEqual(["bob finished the chat", "and alice answers"]);
  }, 180_000);
});
