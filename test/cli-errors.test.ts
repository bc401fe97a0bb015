import net from "node:net";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/program.js";
import { CliHome, type CliResult, type CliUser } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** An expected failure: exactly one line on stderr, starting "cyphr: ", no stack trace, nothing on stdout. */
function expectOneLine(result: CliResult, code: number, pattern: RegExp): void {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code, stdout: "" });
  expect(result.stderr).toMatch(/^cyphr: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
}

async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("the cyphr CLI: expected failures are one line and an exit code", () => {
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    alice = home.user("alice");
    await alice.ok(["init", "--server", server.baseUrl]);
    await alice.ok(["register", "alice_err"]);
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("a wrong passphrase exits 4", async () => {
    expectOneLine(await home.user("alice", "not the passphrase").run(["chats"]), 4, /Wrong passphrase/);
  }, 60_000);

  it("an unknown user exits 1 naming the user", async () => {
    expectOneLine(await alice.run(["send", "nobody_here", "hello?"]), 1, /nobody_here/);
    expectOneLine(await alice.run(["history", "nobody_here"]), 1, /No chat with nobody_here/);
  }, 180_000);

  it("a server that is down exits 3", async () => {
    const down = home.user("down");
    await down.ok(["init", "--server", `http://127.0.0.1:${await closedPort()}`]);
    expectOneLine(await down.run(["register", "down_user"]), 3, /Cannot reach the Cyphr server/);
  }, 60_000);

  it("after logout, commands exit 4 and say how to sign in again; login works", async () => {
    await alice.ok(["logout"]);
    expectOneLine(await alice.run(["chats"]), 4, /not signed in.*cyphr --profile alice login/);
    await alice.ok(["login"]);
    expect(await alice.json(["chats"])).toEqual([]);
  }, 180_000);

  it("a missing profile exits 5, an existing one cannot be created twice, and bad usage exits 2", async () => {
    expectOneLine(await home.user("ghost").run(["chats"]), 5, /No profile "ghost".*cyphr --profile ghost init --server URL/);
    expectOneLine(await alice.run(["init", "--server", server.baseUrl]), 1, /already exists/);
    expectOneLine(await home.user("x").run(["init", "--server", "ftp://example.com"]), 2, /must start with http/);
    expectOneLine(await home.user("../x").run(["chats"]), 2, /Invalid profile name/);
    expectOneLine(await alice.run(["history", "bob", "--limit", "0"]), 2, /Invalid --limit/);
    expectOneLine(await alice.run(["frobnicate"]), 2, /unknown command 'frobnicate'/);
    expectOneLine(await alice.run(["send", "bob"]), 2, /missing required argument 'text'/);
    expectOneLine(await home.run(["--profile", "alice", "chats"]), 2, /CYPHR_PASSPHRASE/);
  }, 300_000);

  it("`chat` outside a terminal says to use send and history", async () => {
    expectOneLine(await alice.run(["chat", "bob"]), 2, /needs a terminal/);
  }, 60_000);

  it("prints --help for every command (each command of the program, in process; two through the real bin)", async () => {
    const program = buildProgram();
    const commands = [program, ...allCommands(program)];
    expect(commands.length).toBeGreaterThan(20);
    for (const command of commands) {
      const path = commandPath(command);
      let printed = "";
      for (const c of [program, ...allCommands(program)]) c.configureOutput({ writeOut: (text) => (printed += text) });
      await expect(program.parseAsync(["node", "cyphr", ...path, "--help"])).rejects.toMatchObject({ exitCode: 0, code: "commander.helpDisplayed" });
      expect(printed, path.join(" ")).toMatch(new RegExp(`^Usage: ${["cyphr", ...path].join(" ")} `));
      expect(printed).toContain(command.description().slice(0, 20));
    }
    for (const args of [["--help"], ["group", "add", "--help"]]) {
      const result = await home.run(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: cyphr /);
    }
  }, 120_000);
});

function allCommands(command: Command): Command[] {
  return command.commands.filter((c) => c.name() !== "help").flatMap((c) => [c, ...allCommands(c)]);
}

function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}
