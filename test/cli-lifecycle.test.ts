import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRecoveryPhrase } from "../src/sdk/index.js";
import { totpCode } from "./helpers/account.js";
import { CLI_BIN, CliHome, type CliUser, shellQuote, TmuxTerminal } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The account lifecycle from the terminal: real `cyphr` processes against a real server —
 * recovery phrase and recover, PIN, TOTP, sessions, export and delete-account.
 */

const hasTmux = TmuxTerminal.available();
if (!hasTmux) console.warn("\n*** test/cli-lifecycle.test.ts: the terminal prompts test SKIPPED: tmux is not installed (apt-get install tmux) ***\n");

interface SessionRow {
  sessionId: string;
  deviceId: number;
  current: boolean;
  createdAt: string;
  lastUsedDate: string;
}

describe("the cyphr CLI: recovery, PIN, two-factor login, sessions, export and deletion", () => {
  let server: TestServer;
  let home: CliHome;

  beforeAll(async () => {
    server = await startTestServer({ env: { PIN_ARGON2_MEMORY_KIB: "1024", PIN_ARGON2_TIME_COST: "1", RATE_LIMIT_RECOVERY: "100/100" } });
    home = await CliHome.create();
  }, 60_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  /** A profile with a new account registered on it. */
  async function registered(profile: string, cyphrId: string): Promise<CliUser> {
    const user = home.user(profile);
    await user.ok(["init", "--server", server.baseUrl]);
    await user.ok(["register", cyphrId]);
    return user;
  }

  it("recovery setup gives 24 words; recover on a new profile takes the account over and the old profile's session is refused", async () => {
    const phone = await registered("rec-phone", "rec_alice");
    const { recoveryPhrase } = await phone.json<{ recoveryPhrase: string }>(["recovery", "setup", "--yes"]);
    expect(recoveryPhrase.split(" ")).toHaveLength(24);

    // Without --yes it asks, and an answer other than "yes" changes nothing.
    const unconfirmed = await phone.run(["recovery", "rotate"], { input: "no\n" });
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stdout.split("\n")[0]).toBe("Your recovery phrase (write it down; it is shown only now):");
    expect(unconfirmed.stderr).toContain("cyphr: Not confirmed: nothing was changed");

    const fresh = home.user("rec-new");
    // --server creates the profile first; another valid phrase is refused like any wrong credential.
    const wrong = await fresh.run(["recover", "rec_alice", "--server", server.baseUrl], { env: { CYPHR_RECOVERY_PHRASE: newRecoveryPhrase() } });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/^cyphr: Recovery refused/);
    // Trying again with --server reuses the profile the failed try made.
    const typo = await fresh.run(["recover", "rec_alice", "--server", server.baseUrl], {
      env: { CYPHR_RECOVERY_PHRASE: recoveryPhrase.replace(/^\S+/, "notaword") },
    });
    expect(typo.stderr).toMatch(/^cyphr: That is not a valid recovery phrase/);
    const elsewhere = await fresh.run(["recover", "rec_alice", "--server", "http://127.0.0.1:1"], { env: { CYPHR_RECOVERY_PHRASE: recoveryPhrase } });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toBe(`cyphr: The profile "rec-new" is for ${server.baseUrl}: leave out --server, or use another --profile.\n`);
    const recovered = await fresh.run(["recover", "rec_alice"], { env: { CYPHR_RECOVERY_PHRASE: recoveryPhrase } });
    expect(recovered.stderr).toBe("");
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toContain("Recovered rec_alice: this profile is device 2");
    expect(recovered.stdout).toContain("Every other device of the account was removed and signed out");
    expect(recovered.stdout).toContain("Your contacts will see that your safety number changed");
    expect(await fresh.json(["whoami"])).toMatchObject({ cyphrId: "rec_alice", deviceId: 2 });
    const devices = await fresh.json<{ devices: { deviceId: number }[] }>(["devices"]);
    expect(devices.devices.map((d) => d.deviceId)).toEqual([2]);

    const old = await phone.run(["sessions"]);
    expect(old.code).toBe(4);
    expect(old.stderr).toMatch(/^cyphr: .*revoked/);
    // A profile that holds an account is not recovered into.
    const again = await fresh.run(["recover", "rec_alice"], { env: { CYPHR_RECOVERY_PHRASE: recoveryPhrase } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already holds an account");
  }, 240_000);

  it("with a PIN set, recover is refused without it and with the old one, and succeeds with the current one", async () => {
    const phone = await registered("pin-phone", "pin_bob");
    const { recoveryPhrase } = await phone.json<{ recoveryPhrase: string }>(["recovery", "setup", "--yes"]);
    expect(await phone.ok(["pin", "set"], { env: { CYPHR_NEW_PIN: "2468" } })).toContain("PIN set for pin_bob");
    await phone.ok(["pin", "change"], { env: { CYPHR_PIN: "2468", CYPHR_NEW_PIN: "97531" } });
    const today = new Date().toISOString().slice(0, 10);
    expect(await phone.json(["security"])).toEqual({
      cyphrId: "pin_bob",
      recoveryPhrase: true,
      recoveryPhraseSetDate: today,
      pin: true,
      pinSetDate: today,
      totp: "off",
    });
    const wrongRemove = await phone.run(["pin", "remove"], { env: { CYPHR_PIN: "2468" } });
    expect(wrongRemove.code).toBe(1);

    const fresh = home.user("pin-new");
    await fresh.ok(["init", "--server", server.baseUrl]);
    const env = { CYPHR_RECOVERY_PHRASE: recoveryPhrase };
    for (const pin of [undefined, "2468"]) {
      const refused = await fresh.run(["recover", "pin_bob"], { env: { ...env, CYPHR_PIN: pin } });
      expect(refused.code).toBe(4);
      expect(refused.stderr).toBe(
        "cyphr: Recovery refused: the Cyphr ID, the recovery phrase or the PIN is wrong, or the account has no recovery phrase (the server does not say which).\n",
      );
    }
    const recovered = await fresh.json<{ recovered: boolean; deviceId: number }>(["recover", "pin_bob", "--pin", "97531"], { env });
    expect(recovered).toMatchObject({ recovered: true, cyphrId: "pin_bob", deviceId: 2, otherDevicesRemoved: true });
  }, 240_000);

  it("totp enable and confirm with a code computed independently; then login needs --totp, and a code is accepted once", async () => {
    const carol = await registered("totp-carol", "totp_carol");
    const { secret, otpauthUri } = await carol.json<{ secret: string; otpauthUri: string }>(["totp", "enable"]);
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Cyphr:totp_carol\?/);
    expect(otpauthUri).toContain(`secret=${secret}`);
    // Codes of successive 30 s steps: each step's code is accepted once, the window is ±1 step.
    let used = Math.floor(Date.now() / 30_000) - 1;
    const nextCode = async () => {
      const step = ++used;
      await waitUntil(() => Math.floor(Date.now() / 30_000) >= step - 1, 40_000);
      return totpCode(secret, step * 30_000);
    };

    const bad = await carol.run(["totp", "confirm", "--code", "12345"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('cyphr: Invalid code "12345": give the 6 digits your authenticator app shows.\n');
    expect(await carol.json(["security"])).toEqual({ cyphrId: "totp_carol", recoveryPhrase: false, pin: false, totp: "pending" });
    expect(await carol.json(["totp", "confirm", "--code", await nextCode()])).toEqual({ cyphrId: "totp_carol", totp: true });
    const security = await carol.run(["security"]);
    expect(security.stdout).toBe(
      "Security of totp_carol:\n  recovery phrase: not set (`cyphr recovery setup`)\n  PIN: not set (`cyphr pin set`)\n  two-factor login: on (`cyphr totp disable --code CODE` turns it off)\n",
    );

    const without = await carol.run(["login"]);
    expect(without.code).toBe(4);
    expect(without.stderr).toBe("cyphr: Two-factor login is on for totp_carol: give the current code, `cyphr login --totp CODE`.\n");
    const code = await nextCode();
    expect(await carol.json(["login", "--totp", code])).toEqual({ cyphrId: "totp_carol", deviceId: 1 });
    const replayed = await carol.run(["login", "--totp", code]);
    expect(replayed.code).toBe(4);
    expect(replayed.stderr).toBe("cyphr: Wrong or already used TOTP code: wait for the next code of your authenticator app and sign in again.\n");

    expect(await carol.json(["totp", "disable", "--code", await nextCode()])).toEqual({ cyphrId: "totp_carol", totp: false });
    await carol.ok(["login"]);

    // For people: the URI and a QR code, then a code is asked; no answer leaves it pending (login needs none).
    const shown = await carol.run(["totp", "enable"], { input: "" });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^ {2}otpauth:\/\/totp\/Cyphr:totp_carol\?/m);
    expect(shown.stdout).toMatch(/[▄▀█]{10}/);
    expect(shown.stderr).toContain("Not confirmed yet: two-factor login starts with `cyphr totp confirm --code CODE`.");
    await carol.ok(["login"]);
  }, 240_000);

  it("sessions lists each session with device and dates; revoke and revoke-others sign them out", async () => {
    const dave = await registered("sessions-dave", "sessions_dave");
    await dave.ok(["login"]);
    await dave.ok(["login"]);
    const list = async () => (await dave.json<{ sessions: SessionRow[] }>(["sessions"])).sessions;
    const three = await list();
    expect(three).toHaveLength(3);
    expect(three.filter((s) => s.current)).toHaveLength(1);
    for (const s of three) {
      expect(s.deviceId).toBe(1);
      expect(s.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(s.lastUsedDate).toBe(new Date().toISOString().slice(0, 10));
    }
    const text = await dave.ok(["sessions", "list"]);
    expect(text.split("\n").filter((l) => l.startsWith("* "))).toHaveLength(1);

    const other = three.find((s) => !s.current)!;
    expect(await dave.json(["sessions", "revoke", other.sessionId])).toEqual({ sessionId: other.sessionId, revoked: true });
    expect((await list()).map((s) => s.sessionId)).not.toContain(other.sessionId);
    expect(await dave.json(["sessions", "revoke-others"])).toEqual({ revoked: 1 });
    const left = await list();
    expect(left.map((s) => [s.sessionId, s.current])).toEqual([[three.find((s) => s.current)!.sessionId, true]]);
    const invalid = await dave.run(["sessions", "revoke", "nope"]);
    expect(invalid.code).toBe(2);
  }, 240_000);

  it("export is the account's JSON document: its own cyphr_id, nothing of the other user it chats with", async () => {
    const [erin, frank] = await Promise.all([registered("export-erin", "export_erin"), registered("export-frank", "export_frank")]);
    await erin.ok(["send", "export_frank", "a message for the export"]);
    await frank.ok(["send", "export_erin", "a reply from frank"]);
    const frankId = (await frank.json<{ userId: string }>(["whoami"])).userId;

    type Export = { format: string; identities: { cyphr_id: string }; messages: { id: string }[]; chats: unknown[]; contacts: { contact_id: string }[] };
    const text = await erin.ok(["export"]);
    const doc = JSON.parse(text) as Export;
    expect(doc.format).toBe("cyphr-account-export-v1");
    expect(doc.identities.cyphr_id).toBe("export_erin");
    expect(doc.chats).toHaveLength(1);
    expect(doc.messages.length).toBeGreaterThanOrEqual(1);
    // Frank appears only as Erin's own contact; nothing of his (id elsewhere, Cyphr ID, his messages) is in it.
    expect(doc.contacts.map((c) => c.contact_id)).toEqual([frankId]);
    expect(JSON.stringify({ ...doc, contacts: [] })).not.toContain(frankId);
    expect(text).not.toContain("export_frank");
    const frankMessages = (JSON.parse(await frank.ok(["export"])) as Export).messages.map((m) => m.id);
    expect(frankMessages.length).toBeGreaterThanOrEqual(1);
    expect(doc.messages.map((m) => m.id).filter((id) => frankMessages.includes(id))).toEqual([]);

    const file = path.join(home.folder, "erin-export.json");
    const written = await erin.json<{ output: string; bytes: number }>(["export", "--output", file]);
    expect(written.output).toBe(file);
    const stat = await fs.stat(file);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(JSON.parse(await fs.readFile(file, "utf8"))).toMatchObject({ identities: { cyphr_id: "export_erin" } });
  }, 240_000);

  it("delete-account asks for the Cyphr ID, deletes, signs the profile out, and the Cyphr ID cannot be registered again", async () => {
    const gina = await registered("delete-gina", "delete_gina");
    const unconfirmed = await gina.run(["delete-account"], { input: "delete_gin\n" });
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain("cyphr: Not confirmed: the account was not deleted.");
    await gina.ok(["whoami"]);
    await gina.ok(["sessions"]);

    const deleted = await gina.run(["delete-account"], { input: "delete_gina\n" });
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain("Deleted delete_gina; this profile is signed out.");
    const after = await gina.run(["sessions"]);
    expect(after.code).toBe(4);

    const again = home.user("delete-again");
    await again.ok(["init", "--server", server.baseUrl]);
    const register = await again.run(["register", "delete_gina"]);
    expect(register.code).toBe(1);
    expect(register.stderr).toMatch(/^cyphr: cyphr_id "delete_gina" belonged to a deleted account; it can be registered from /);
  }, 240_000);

  it.skipIf(!hasTmux)(
    "on a terminal, recover asks for the phrase and the PIN without echo, and login asks for the TOTP code",
    async () => {
      const socket = `cyphr-lifecycle-test-${process.pid}`;
      try {
        const hana = await registered("tty-hana", "tty_hana");
        const { recoveryPhrase } = await hana.json<{ recoveryPhrase: string }>(["recovery", "setup", "--yes"]);
        await hana.ok(["pin", "set"], { env: { CYPHR_NEW_PIN: "pin-1357" } });
        const { secret } = await hana.json<{ secret: string }>(["totp", "enable"]);
        const step = Math.floor(Date.now() / 30_000);
        await hana.ok(["totp", "confirm", "--code", totpCode(secret, step * 30_000)]);

        const env = { CYPHR_HOME: home.folder, CYPHR_PASSPHRASE: "passphrase of tty-new", TERM: "xterm-256color" };
        const cyphr = (args: string) => `node ${shellQuote(CLI_BIN)} --profile tty-new ${args}`;
        const recover = await TmuxTerminal.start(
          socket,
          "recover",
          cyphr(`recover tty_hana --server ${server.baseUrl}`),
          { cols: 120, rows: 30 },
          env,
          home.folder,
        );
        await recover.waitForText("Recovery phrase:");
        recover.type(recoveryPhrase);
        recover.key("Enter");
        await recover.waitForText("PIN (empty if the account has none):");
        recover.type("pin-1357");
        recover.key("Enter");
        // Rows joined as they were written (a long line wraps): no two words of the phrase in a row, no PIN.
        const screen = (await recover.waitForText("Recovered tty_hana: this profile is device 2", 90_000)).join("");
        const words = recoveryPhrase.split(" ");
        expect(words.slice(1).filter((word, i) => screen.includes(`${words[i]} ${word}`))).toEqual([]);
        expect(screen).not.toContain("pin-1357");

        const login = await TmuxTerminal.start(socket, "login", cyphr("login"), { cols: 120, rows: 30 }, env, home.folder);
        await login.waitForText("Code from your authenticator app:");
        // A later step than the confirmed one (a code is accepted once), within the ±1 step window.
        login.type(totpCode(secret, Math.max(step + 1, Math.floor(Date.now() / 30_000)) * 30_000));
        login.key("Enter");
        await login.waitForText("Signed in as tty_hana (device 2).", 60_000);
      } finally {
        TmuxTerminal.killServer(socket);
      }
    },
    240_000,
  );

  it("every lifecycle command has --help", async () => {
    const commands = [["recovery", "setup"], ["recover"], ["pin", "change"], ["totp", "enable"], ["sessions", "revoke-others"], ["export"], ["delete-account"]];
    for (const args of commands) {
      const help = await home.run([...args, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: cyphr ${args.join(" ")}`);
    }
  }, 120_000);
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
