import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliHome, type CliUser } from "./helpers/cli.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

interface Message {
  seq: string;
  sender: string;
  own: boolean;
  readable: boolean;
  text?: string;
  reason?: string;
}

describe("the cyphr CLI: two users in two profiles message each other end to end", () => {
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let bob: CliUser;
  const sent = ["hello bob, from the CLI", "hi alice, bob here", "a second line from alice via stdin"];

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    alice = home.user("alice");
    bob = home.user("bob");
    await Promise.all([alice.ok(["init", "--server", server.baseUrl]), bob.ok(["init", "--server", server.baseUrl])]);
    await Promise.all([alice.ok(["register", "alice_cli"]), bob.ok(["register", "bob_cli"])]);
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("sends to a user by cyphr id, and both sides read the history decrypted", async () => {
    const first = await alice.json<{ chatId: string; seq: string }>(["send", "bob_cli", sent[0]!]);
    expect(first.chatId).toMatch(/^[0-9a-f-]{36}$/);

    const atBob = await bob.json<{ chatId: string; messages: Message[] }>(["history", "alice_cli"]);
    expect(atBob.chatId).toBe(first.chatId);
    expect(atBob.messages.map((m) => [m.sender, m.text])).toEqual([["alice_cli", sent[0]]]);

    await bob.ok(["send", "alice_cli", sent[1]!]);
    await alice.ok(["send", first.chatId, "-"], { input: `${sent[2]}\n` });

    const atAlice = await alice.json<{ messages: Message[] }>(["history", "bob_cli"]);
    expect(atAlice.messages.map((m) => [m.sender, m.text, m.own])).toEqual([
      ["alice_cli", sent[0], true],
      ["bob_cli", sent[1], false],
      ["alice_cli", sent[2], true],
    ]);
    const text = await bob.ok(["history", "alice_cli"]);
    expect(text.trim().split("\n")).toEqual([
      expect.stringMatching(/^\[\d+\] alice_cli: hello bob, from the CLI$/),
      expect.stringMatching(/bob_cli: hi alice/),
      expect.stringMatching(/alice_cli: a second line/),
    ]);
  }, 120_000);

  it("lists chats with --json and as text", async () => {
    const chats = await alice.json<{ chatId: string; kind: string; peer: string }[]>(["chats"]);
    expect(chats).toEqual([expect.objectContaining({ kind: "direct", peer: "bob_cli" })]);
    expect(await bob.ok(["chats"])).toContain("alice_cli");
  }, 60_000);

  it("stored none of the plaintexts: every column of every table scanned", async () => {
    const hits = await findAllEverywhere(
      server.databaseUrl,
      sent.map((s) => new TextEncoder().encode(s)),
    );
    expect(hits).toEqual([]);
  });
});
