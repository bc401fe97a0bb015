import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliHome, type CliUser } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

interface ChatRow {
  chatId: string;
  kind: string;
  peer?: string;
  request: boolean;
}

/**
 * Message requests in the CLI, over MLS chats: a chat started by someone not accepted (a direct
 * chat, or an add to a group) is marked in `chats` until `accept`; `decline` removes it.
 */
describe("the cyphr CLI: message requests of MLS chats", () => {
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let bob: CliUser;
  let carol: CliUser;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    ({ alice, bob, carol } = await home.registered(server.baseUrl, { alice: "alice_rq", bob: "bob_rq", carol: "carol_rq" }));
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("marks a direct chat from someone not accepted as a request until `accept`; the sender's own is none", async () => {
    const { chatId } = await alice.json<{ chatId: string }>(["send", "bob_rq", "hello bob"]);
    expect(await bob.json<ChatRow[]>(["chats"])).toEqual([expect.objectContaining({ chatId, peer: "alice_rq", request: true })]);
    expect(await bob.ok(["chats"])).toContain(`${chatId}  alice_rq  (request: cyphr accept / decline)`);
    expect(await alice.json<ChatRow[]>(["chats"])).toEqual([expect.objectContaining({ chatId, request: false })]);
    expect(await bob.ok(["accept", "alice_rq"])).toContain("Accepted the chat with alice_rq.");
    expect(await bob.json<ChatRow[]>(["chats"])).toEqual([expect.objectContaining({ chatId, request: false })]);
  }, 120_000);

  it("`decline` removes a request; a group add by someone not accepted is a request too", async () => {
    const { chatId } = await carol.json<{ chatId: string }>(["send", "bob_rq", "buy my stuff"]);
    await bob.ok(["decline", chatId]);
    expect((await bob.json<ChatRow[]>(["chats"])).map((c) => c.chatId)).not.toContain(chatId);

    const group = await carol.json<{ chatId: string }>(["group", "create", "alice_rq"]);
    expect(await alice.json<ChatRow[]>(["chats"])).toContainEqual(expect.objectContaining({ chatId: group.chatId, kind: "group", request: true }));
  }, 120_000);
});
