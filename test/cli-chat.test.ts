import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_BIN, CliHome, type CliUser, shellQuote, TmuxTerminal } from "./helpers/cli.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const hasTmux = TmuxTerminal.available();
if (!hasTmux) console.warn("\n*** test/cli-chat.test.ts SKIPPED: tmux is not installed (apt-get install tmux) ***\n");

describe.skipIf(!hasTmux)("cyphr chat: the interactive screen in a real terminal (tmux)", () => {
  const socket = `cyphr-cli-test-${process.pid}`;
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let bob: CliUser;
  const typed = ["hello bob, typed live in tmux", "and hello back from bob", "alice again, seen typing first"];

  /** `cyphr chat` in a terminal; when it ends, the shell records the terminal's settings (stty) for the test. */
  async function chatIn(user: CliUser, peer: string, size = { cols: 100, rows: 24 }): Promise<{ term: TmuxTerminal; sttyFile: string }> {
    const sttyFile = path.join(home.folder, `${user.profile}.stty`);
    const command = `${shellQuote(process.execPath)} ${shellQuote(CLI_BIN)} --profile ${user.profile} chat ${peer}; stty -a > ${shellQuote(sttyFile)}`;
    const env = { CYPHR_HOME: home.folder, CYPHR_PASSPHRASE: user.passphrase, TERM: "xterm-256color" };
    const term = await TmuxTerminal.start(socket, user.profile, command, size, env);
    await term.waitFor("live chat screen", (s) => /·\s+live\s+·/.test(s[0]!), 60_000);
    return { term, sttyFile };
  }

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    alice = home.user("alice");
    bob = home.user("bob");
    await Promise.all([alice.ok(["init", "--server", server.baseUrl]), bob.ok(["init", "--server", server.baseUrl])]);
    await Promise.all([alice.ok(["register", "alice_t"]), bob.ok(["register", "bob_t"])]);
  }, 120_000);

  afterAll(async () => {
    TmuxTerminal.killServer(socket);
    await home?.remove();
    await server?.close();
  });

  it("messages appear live on the other screen, read marks and typing follow, resize repaints, /quit and Ctrl-C restore the terminal", async () => {
    const a = await chatIn(alice, "bob_t");
    const b = await chatIn(bob, "alice_t");
    expect(a.term.status().alternate).toBe(true);

    // Starting the chat made bob alice's contact and the chat a request for bob; opening it accepted alice (cyphr.privacy.v1).
    a.term.type(typed[0]!);
    a.term.key("Enter");
    const atBob = await b.term.waitForText(`alice_t: ${typed[0]}`);
    expect(atBob.at(-1)).toMatch(/^>\s*$/);
    b.term.type(typed[1]!);
    b.term.key("Enter");
    await a.term.waitForText(`bob_t: ${typed[1]}`);
    await b.term.waitForText(`bob_t: ${typed[1]} ✓✓ read`);

    a.term.type(typed[2]!);
    await b.term.waitForText("alice_t is typing…");
    a.term.key("Enter");
    await b.term.waitForText(`alice_t: ${typed[2]}`);
    await a.term.waitForText(`alice_t: ${typed[2]} ✓✓ read`);

    a.term.resize(60, 12);
    // Repainted for the new size: the input line is now row 12 of 12, nothing wider than 60 columns.
    const small = await a.term.waitFor("repaint at 60×12", (s) => s.length === 12 && s[11]!.startsWith(">") && s.every((l) => l.length <= 60));
    expect(a.term.status()).toMatchObject({ width: 60, height: 12, alternate: true });
    expect(small.filter((l) => l.includes(typed[2]!.slice(0, 20)))).toHaveLength(1);

    b.term.type("/quit");
    b.term.key("Enter");
    await b.term.waitFor("exit", () => b.term.status().dead);
    a.term.key("C-c");
    await a.term.waitFor("exit", () => a.term.status().dead);

    for (const { term, sttyFile } of [a, b]) {
      expect(term.status().alternate).toBe(false);
      const stty = await fs.readFile(sttyFile, "utf8");
      expect(stty).toMatch(/(^|\s)icanon(\s|$)/);
      expect(stty).toMatch(/(^|\s)echo(\s|$)/);
    }

    const history = await bob.json<{ messages: { sender: string; text: string }[] }>(["history", "alice_t"]);
    expect(history.messages.map((m) => [m.sender, m.text])).toEqual([
      ["alice_t", typed[0]],
      ["bob_t", typed[1]],
      ["alice_t", typed[2]],
    ]);
    expect(
      await findAllEverywhere(
        server.databaseUrl,
        typed.map((t) => new TextEncoder().encode(t)),
      ),
    ).toEqual([]);
  }, 240_000);
});
