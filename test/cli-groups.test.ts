import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliHome, type CliUser } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

interface History {
  messages: { sender: string; readable: boolean; text?: string; reason?: string }[];
}

describe("the cyphr CLI: MLS groups created and changed from the command line", () => {
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let bob: CliUser;
  let carol: CliUser;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    ({ alice, bob, carol } = await home.registered(server.baseUrl, { alice: "alice_g", bob: "bob_g", carol: "carol_g" }));
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("creates a group, adds and removes members; each reads exactly what was sent while a member", async () => {
    const group = await alice.json<{ chatId: string; members: string[] }>(["group", "create", "bob_g"]);
    expect(group.members).toEqual(["alice_g", "bob_g"]);
    const chatId = group.chatId;

    await alice.ok(["send", chatId, "welcome to the group, bob"]);
    await bob.ok(["send", chatId, "thanks alice"]);
    expect(await carol.run(["history", chatId])).toMatchObject({ code: 1 });

    const added = await alice.json<{ added: string[] }>(["group", "add", chatId, "carol_g"]);
    expect(added.added).toEqual(["carol_g"]);
    const members = await alice.json<{ members: { cyphrId: string; role: string }[] }>(["group", "members", chatId]);
    expect(members.members).toEqual([
      { cyphrId: "alice_g", role: "admin" },
      { cyphrId: "bob_g", role: "member" },
      { cyphrId: "carol_g", role: "member" },
    ]);
    await carol.ok(["send", chatId, "carol joins in"]);

    const atCarol = await carol.json<History>(["history", chatId]);
    expect(atCarol.messages.filter((m) => m.readable).map((m) => m.text)).toEqual(["carol joins in"]);

    await alice.json(["group", "remove", chatId, "bob_g"]);
    await alice.ok(["send", chatId, "bob is gone now"]);

    const atBob = await bob.json<History>(["history", chatId]);
    expect(atBob.messages.map((m) => m.text)).toEqual(["welcome to the group, bob", "thanks alice", "carol joins in"]);
    const atCarolAfter = await carol.json<History>(["history", chatId]);
    expect(atCarolAfter.messages.map((m) => m.text).filter(Boolean)).toEqual(["carol joins in", "bob is gone now"]);

    const sendAfterRemoval = await bob.run(["send", chatId, "am I still here?"]);
    expect(sendAfterRemoval.code).toBe(1);
    expect(sendAfterRemoval.stderr.trim().split("\n")).toHaveLength(1);

    await carol.ok(["group", "leave", chatId]);
    const left = await alice.json<{ members: { cyphrId: string }[] }>(["group", "members", chatId]);
    expect(left.members.map((m) => m.cyphrId)).toEqual(["alice_g"]);
  }, 240_000);

  it("a member who is not an admin cannot add anyone: one line, exit 1", async () => {
    const { chatId } = await alice.json<{ chatId: string }>(["group", "create", "bob_g"]);
    const result = await bob.run(["group", "add", chatId, "carol_g"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^cyphr: .*admin.*\n$/);
  }, 60_000);
});
