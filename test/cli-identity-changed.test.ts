import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LiveEvent, MemoryStore, newRecoveryPhrase, recoverAccount } from "../src/sdk/index.js";
import { nodeTransport } from "../src/sdk/node/transport.js";
import { CLI_BIN, CliHome, type CliUser, shellQuote, TmuxTerminal } from "./helpers/cli.js";
import { type LiveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const hasTmux = TmuxTerminal.available();
if (!hasTmux) console.warn("\n*** test/cli-identity-changed.test.ts SKIPPED: tmux is not installed (apt-get install tmux) ***\n");

describe.skipIf(!hasTmux)("cyphr chat and history: a peer's safety number change", () => {
  const socket = `cyphr-cli-idc-${process.pid}`;
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let bob: LiveDevice;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    alice = home.user("alice");
    await alice.ok(["init", "--server", server.baseUrl]);
    await alice.ok(["register", "alice_idc"]);
    bob = await registerLiveDevice("bob_idc", { baseUrl: server.baseUrl });
    await bob.live.start();
  }, 120_000);

  afterAll(async () => {
    TmuxTerminal.killServer(socket);
    await bob?.live.close();
    await home?.remove();
    await server?.close();
  });

  it("the chat screen says so live, and history places it after the messages before it", async () => {
    const peer = bob.account.cyphrId;
    await alice.ok(["send", peer, "hello before"]);
    await bob.until((ev: LiveEvent[]) => ev.some((e) => e.kind === "message" && e.text === "hello before"));

    const command = `${shellQuote(process.execPath)} ${shellQuote(CLI_BIN)} --profile ${alice.profile} chat ${peer}`;
    const term = await TmuxTerminal.start(
      socket,
      alice.profile,
      command,
      { cols: 120, rows: 24 },
      { CYPHR_HOME: home.folder, CYPHR_PASSPHRASE: alice.passphrase, TERM: "xterm-256color" },
    );
    await term.waitFor("live chat screen", (s) => /·\s+live\s+·/.test(s[0]!), 60_000);

    // Bob loses his device and recovers the account: a new identity key.
    const phrase = newRecoveryPhrase();
    await bob.account.lifecycle().setRecoveryPhrase(phrase);
    await bob.live.close();
    await recoverAccount({ transport: nodeTransport(server.baseUrl), store: new MemoryStore() }, peer, phrase);

    const screen = await term.waitForText(`${peer}'s safety number changed`, 60_000);
    const at = screen.findIndex((l) => l.includes(`--: ${peer}'s safety number changed`));
    expect(at).toBeGreaterThan(screen.findIndex((l) => l.includes("alice_idc: hello before")));
    term.type("/quit");
    term.key("Enter");
    await term.waitFor("exit", () => term.status().dead);

    await alice.ok(["send", peer, "hello after"]);
    const lines = (await alice.ok(["history", peer])).trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^\[\d+\] alice_idc: hello before$/),
      expect.stringMatching(new RegExp(`^-- ${peer}'s safety number changed \\(they recovered their account\\); new: \\d{5}( \\d{5}){11}$`)),
      expect.stringMatching(/^\[\d+\] alice_idc: hello after$/),
    ]);
    const json = await alice.json<{ safetyNumberChanges: { cyphrId: string; safetyNumber: string; afterSeq: string }[]; messages: { seq: string }[] }>([
      "history",
      peer,
    ]);
    expect(json.safetyNumberChanges).toMatchObject([{ cyphrId: peer, afterSeq: json.messages[0]!.seq }]);
  }, 180_000);
});
