import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliHome, type CliUser } from "./helpers/cli.js";
import { findEverywhere } from "./helpers/db-scan.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

describe("the cyphr CLI sends and receives files", () => {
  let server: TestServer;
  let home: CliHome;
  let alice: CliUser;
  let bob: CliUser;

  beforeAll(async () => {
    server = await startTestServer();
    home = await CliHome.create();
    alice = home.user("alice");
    bob = home.user("bob");
    await Promise.all([alice.ok(["init", "--server", server.baseUrl]), bob.ok(["init", "--server", server.baseUrl])]);
    await Promise.all([alice.ok(["register", "alice_files"]), bob.ok(["register", "bob_files"])]);
  }, 120_000);

  afterAll(async () => {
    await home?.remove();
    await server?.close();
  });

  it("send-file uploads with a progress bar and sends the reference; get saves the decrypted file", async () => {
    const file = randomBytes(2 * 1024 * 1024 + 99);
    await fs.mkdir(path.join(home.folder, "outbox"));
    const source = path.join(home.folder, "outbox", "report.pdf");
    await fs.writeFile(source, file);

    const sent = await alice.run(["send-file", "bob_files", source]);
    expect(sent.code).toBe(0);
    expect(sent.stdout.trim()).toMatch(/^Sent report\.pdf \(2\.0 MiB\) to bob_files \(seq \d+\)\.$/);
    expect(sent.stderr).toMatch(/sending report\.pdf \[#{24}\] 100% {2}2\.0 MiB of 2\.0 MiB {2}[\d.]+ \w+\/s {2}0s left/);
    const seq = /seq (\d+)/.exec(sent.stdout)![1]!;

    expect(await bob.ok(["history", "alice_files"])).toContain(`[${seq}] alice_files: (file report.pdf, 2.0 MiB: \`cyphr get\` saves it)`);
    const got = await bob.run(["get", "alice_files", seq]);
    expect(got.code).toBe(0);
    expect(got.stderr).toMatch(/receiving report\.pdf \[#{24}\] 100% {2}2\.0 MiB of 2\.0 MiB {2}[\d.]+ \w+\/s {2}0s left/);
    const saved = path.join(home.folder, "report.pdf");
    expect(got.stdout.trim()).toBe(`Saved report.pdf (2.0 MiB) to ${saved}.`);
    expect((await fs.readFile(saved)).equals(file)).toBe(true);

    // The file is there now: get refuses to replace it, and saves elsewhere with -o (JSON for scripts).
    const again = await bob.run(["get", "alice_files", seq]);
    expect({ code: again.code, stderr: again.stderr.trim() }).toEqual({
      code: 2,
      stderr: `cyphr: report.pdf exists: pass --force to replace it, or -o to save elsewhere.`,
    });
    const copy = path.join(home.folder, "copy.pdf");
    const json = await bob.json<{ path: string; name: string; size: number }>(["get", "alice_files", seq, "-o", copy]);
    expect(json).toMatchObject({ path: copy, name: "report.pdf", size: file.length });
    expect((await fs.readFile(copy)).equals(file)).toBe(true);
    expect(await findEverywhere(server.databaseUrl, file.subarray(4096, 4128))).toEqual([]);
  }, 120_000);

  it("send-file --expires gives the attachment that lifetime on the server (e.g. the chat's disappearing timer)", async () => {
    const source = path.join(home.folder, "expiring.bin");
    await fs.writeFile(source, randomBytes(5000));
    const sent = await alice.json<{ attachmentId: string }>(["send-file", "bob_files", source, "--expires", "3600"]);
    const ttl = await server.app.pool.oneFirst(sql.unsafe`SELECT ttl_seconds FROM attachments WHERE attachment_id = ${sent.attachmentId}`);
    expect(ttl).toBe(3600);
    const refused = await alice.run(["send-file", "bob_files", source, "--expires", "soon"]);
    expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({ code: 2, stderr: `cyphr: Invalid --expires "soon": give a whole number from 1.` });
  }, 120_000);

  it("refuses a message without a file and a missing file in one line", async () => {
    await alice.ok(["send", "bob_files", "just text"]);
    const history = await bob.json<{ messages: { seq: string; text?: string }[] }>(["history", "alice_files"]);
    const text = history.messages.find((m) => m.text === "just text")!;
    const refused = await bob.run(["get", "alice_files", text.seq]);
    expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({
      code: 1,
      stderr: `cyphr: Message ${text.seq} in alice_files carries no file this device can read.`,
    });
    const missing = await alice.run(["send-file", "bob_files", path.join(home.folder, "nope.bin")]);
    expect({ code: missing.code, stderr: missing.stderr.trim() }).toEqual({ code: 2, stderr: `cyphr: No file at ${path.join(home.folder, "nope.bin")}.` });
  }, 120_000);
});
