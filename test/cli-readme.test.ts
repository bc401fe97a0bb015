import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliHome, TmuxTerminal } from "./helpers/cli.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { REPO_ROOT } from "./helpers/process.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const hasTmux = TmuxTerminal.available();
if (!hasTmux) console.warn("\n*** test/cli-readme.test.ts SKIPPED: tmux is not installed (apt-get install tmux) ***\n");

const README_URL = "http://127.0.0.1:8080";
const PROMPT = "READY$";

/** The README's "Chat from two terminals": each ```sh block, the terminal it names and its commands. */
async function readmeSteps(): Promise<{ terminal: 1 | 2; commands: string[] }[]> {
  const readme = await fs.readFile(`${REPO_ROOT}/README.md`, "utf8");
  const section = readme.split("### Chat from two terminals")[1]!.split(/\n##+ /)[0]!;
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map(([, block]) => {
    const lines = block!.trim().split("\n");
    const terminal = /^# Terminal (\d)/.exec(lines[0]!)?.[1];
    if (terminal !== "1" && terminal !== "2") throw new Error(`README block without "# Terminal 1|2": ${lines[0]}`);
    return { terminal: Number(terminal) as 1 | 2, commands: lines.slice(1).filter((l) => l.trim() !== "" && !l.startsWith("#")) };
  });
}

describe.skipIf(!hasTmux)("README quick start: the two-terminal chat, exactly as written", () => {
  const socket = `cyphr-readme-test-${process.pid}`;
  let server: TestServer;
  let home: CliHome;
  const passphrases = { 1: "alice's passphrase, typed", 2: "bob's passphrase, typed" };
  const typed = { 1: "hi bob, this is the README chat", 2: "hello alice, I read you", 3: "great, typing shows too" };

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
  }, 120_000);

  afterAll(async () => {
    TmuxTerminal.killServer(socket);
    await home?.remove();
    await server?.close();
  });

  /** Types one README command into a shell, answers its passphrase prompts, and waits until `done`. */
  async function run(term: TmuxTerminal, command: string, passphrase: string, done: (screen: string[]) => boolean): Promise<string[]> {
    term.key("C-l");
    await term.waitFor("a cleared shell", (s) => s[0] === PROMPT && s.slice(1).every((l) => l.trim() === ""));
    term.type(command.replace(README_URL, server.baseUrl));
    term.key("Enter");
    let answered = 0;
    return term.waitFor(
      `the end of \`${command}\``,
      (screen) => {
        const asked = screen.filter((l) => /^(Profile passphrase|Passphrase again):$/.test(l)).length;
        if (asked > answered) {
          answered = asked;
          term.type(passphrase);
          term.key("Enter");
        }
        return done(screen);
      },
      90_000,
    );
  }

  it("registers alice and bob, both open the chat, and messages appear live on the other side", async () => {
    const steps = await readmeSteps();
    expect(steps.map((s) => s.terminal)).toEqual([1, 2, 1, 2]);
    const env = { CYPHR_HOME: home.folder, PS1: PROMPT, TERM: "xterm-256color" };
    const terms = {
      1: await TmuxTerminal.start(socket, "terminal1", "exec bash --norc --noprofile", { cols: 110, rows: 30 }, env, REPO_ROOT),
      2: await TmuxTerminal.start(socket, "terminal2", "exec bash --norc --noprofile", { cols: 110, rows: 30 }, env, REPO_ROOT),
    };
    const shellBack = (s: string[]) => s.slice(1).some((l) => l === PROMPT);
    const chatLive = (s: string[]) => /·\s+live\s+·/.test(s[0] ?? "");
    for (const { terminal, commands } of steps) {
      for (const command of commands) {
        const interactive = / chat /.test(command);
        const screen = await run(terms[terminal], command, passphrases[terminal], interactive ? chatLive : shellBack);
        if (!interactive) expect(screen.join("\n")).not.toMatch(/cyphr: /);
        expect(screen.join("\n")).not.toContain(passphrases[terminal]);
      }
    }

    // Bob opening alice's chat accepted her request (cyphr.privacy.v1): typing and receipts flow both ways before he writes.
    terms[1].type(typed[1]);
    terms[1].key("Enter");
    await terms[2].waitForText(`alice_1: ${typed[1]}`);
    await terms[1].waitForText(`alice_1: ${typed[1]} ✓✓ read`);
    terms[2].type(typed[2]);
    await terms[1].waitForText("bob_1 is typing…");
    terms[2].key("Enter");
    await terms[1].waitForText(`bob_1: ${typed[2]}`);
    await terms[2].waitForText(`bob_1: ${typed[2]} ✓✓ read`);
    terms[1].type(typed[3]);
    await terms[2].waitForText("alice_1 is typing…");
    terms[1].key("Enter");
    await terms[2].waitForText(`alice_1: ${typed[3]}`);
    await terms[1].waitForText(`alice_1: ${typed[3]} ✓✓ read`);

    terms[1].type("/quit");
    terms[1].key("Enter");
    terms[2].key("C-c");
    for (const term of [terms[1], terms[2]]) await term.waitFor("the shell back", (s) => !term.status().alternate && s.some((l) => l === PROMPT));

    expect(
      await findAllEverywhere(
        server.databaseUrl,
        Object.values(typed).map((t) => new TextEncoder().encode(t)),
      ),
    ).toEqual([]);
  }, 400_000);
});
