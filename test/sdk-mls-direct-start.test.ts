import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MlsDevice } from "../src/sdk/mls/mls-device.js";
import { MemoryStore } from "../src/sdk/store.js";
import { identityClient } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

/** One SDK device whose transport can be made to cut the next call of one method off (as a killed process would). */
interface Device {
  user: RegisteredUser;
  mls: MlsDevice;
  killNext(method: string): void;
}

async function device(): Promise<Device> {
  const user = await registerUser(identityClient("connect", server.baseUrl));
  const kill = new Set<string>();
  const killer: Interceptor = (next) => (req) => {
    if (kill.delete(req.method.name)) throw new ConnectError(`killed before ${req.method.name} reached the server`, Code.Canceled);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", interceptors: [killer] });
  const mls = new MlsDevice(
    transport,
    { accessToken: async () => user.accessToken },
    { cyphrId: user.cyphrId, deviceId: user.device.deviceId, signingSecretKey: user.device.deviceSecretKey },
    new MemoryStore(),
  );
  await mls.ensureKeyPackages(3);
  return { user, mls, killNext: (method) => kill.add(method) };
}

async function serverEpoch(d: Device, chatId: string): Promise<bigint | undefined> {
  const { chats } = await d.mls.messaging.listChats({ limit: 200 }, { headers: { authorization: `Bearer ${d.user.accessToken}` } });
  return chats.find((c) => c.chatId === chatId)?.mlsEpoch;
}

async function texts(d: Device, chatId: string): Promise<(string | undefined)[]> {
  return (await d.mls.history(chatId)).map((m) => (m.readable ? m.text : `(${m.reason})`));
}

async function onlyChatOf(d: Device): Promise<string> {
  const { chats } = await d.mls.messaging.listChats({ limit: 200 }, { headers: { authorization: `Bearer ${d.user.accessToken}` } });
  expect(chats).toHaveLength(1);
  return chats[0]!.chatId;
}

describe("SDK: a direct chat whose start was cut off midway is finished, not left dead", () => {
  it("a retry of startDirectChat makes the first commit that never reached the server", async () => {
    const [alice, bob] = [await device(), await device()];
    alice.killNext("CommitMlsChat");
    await expect(alice.mls.startDirectChat(bob.user.cyphrId)).rejects.toMatchObject({ code: "canceled" });
    const chatId = await onlyChatOf(alice);
    expect(await serverEpoch(alice, chatId)).toBe(0n);

    const again = await alice.mls.startDirectChat(bob.user.cyphrId);
    expect(again).toMatchObject({ chatId, epoch: 1n });
    await bob.mls.acceptWelcome(chatId);
    await alice.mls.send(chatId, "after the retry");
    expect(await texts(bob, chatId)).toEqual(["after the retry"]);
  }, 60_000);

  it("the next send finishes it, when the start was cut off before its key packages were claimed", async () => {
    const [alice, bob] = [await device(), await device()];
    alice.killNext("ClaimKeyPackages");
    await expect(alice.mls.startDirectChat(bob.user.cyphrId)).rejects.toMatchObject({ code: "canceled" });
    const chatId = await onlyChatOf(alice);

    await alice.mls.send(chatId, "sent into the unfinished chat");
    expect(await serverEpoch(alice, chatId)).toBe(1n);
    await bob.mls.acceptWelcome(chatId);
    expect(await texts(bob, chatId)).toEqual(["sent into the unfinished chat"]);
  }, 60_000);

  it("the peer can finish it too; the starter's next send then joins from the peer's Welcome", async () => {
    const [carol, dave] = [await device(), await device()];
    carol.killNext("CommitMlsChat");
    await expect(carol.mls.startDirectChat(dave.user.cyphrId)).rejects.toMatchObject({ code: "canceled" });
    const chatId = await onlyChatOf(carol);

    // Dave's start meets the existing chat at epoch 0 and makes its first commit, Welcoming Carol's device.
    expect(await dave.mls.startDirectChat(carol.user.cyphrId)).toMatchObject({ chatId, epoch: 1n });
    await dave.mls.send(chatId, "dave finished it");
    // Carol still holds her own epoch-0 group from the cut-off start: her next send replaces it with Dave's.
    await carol.mls.send(chatId, "carol reads and writes");
    expect(await texts(carol, chatId)).toEqual(["dave finished it", "carol reads and writes"]);
    expect(await texts(dave, chatId)).toEqual(["dave finished it", "carol reads and writes"]);
    // Once finished, starting again answers ALREADY_EXISTS naming the chat, as for any chat the pair has.
    await expect(carol.mls.startDirectChat(dave.user.cyphrId)).rejects.toMatchObject({ code: "already_exists", message: expect.stringContaining(chatId) });
  }, 60_000);
});
