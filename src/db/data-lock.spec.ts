import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lockDataFolder } from "./data-lock.js";

let dir: string;
let lockFile: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-lock-spec-"));
  lockFile = path.join(dir, "cyphr.lock");
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const inUse = /is in use by process \d+ \(another Cyphr server\?\): stop it first, or set CYPHR_DATA_DIR/;

async function ownLock(): Promise<{ pid: number; start: string | null; boot: string | null }> {
  return JSON.parse(await fs.readFile(lockFile, "utf8"));
}

/** The pid of a process that ran and is gone. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}

describe("lockDataFolder", () => {
  it("holds the folder until released: a second lock is refused while held, granted after", async () => {
    const lock = await lockDataFolder(dir);
    expect((await ownLock()).pid).toBe(process.pid);
    await expect(lockDataFolder(dir)).rejects.toThrow(inUse);
    lock.release();
    await expect(fs.access(lockFile)).rejects.toThrow();
    (await lockDataFolder(dir)).release();
  });

  it("takes over the lock of a process that is gone", async () => {
    await fs.writeFile(lockFile, JSON.stringify({ pid: deadPid(), start: "1", boot: null }));
    const lock = await lockDataFolder(dir);
    expect((await ownLock()).pid).toBe(process.pid);
    lock.release();
  });

  it.runIf(process.platform === "linux")("takes over a lock whose pid now belongs to another process (other start time, or another boot)", async () => {
    const first = await lockDataFolder(dir);
    const mine = await ownLock();
    first.release();
    for (const stale of [
      { ...mine, start: "1" },
      { ...mine, boot: "00000000-0000-0000-0000-000000000000" },
    ]) {
      await fs.writeFile(lockFile, JSON.stringify(stale));
      const lock = await lockDataFolder(dir);
      expect(await ownLock()).toMatchObject({ pid: mine.pid, start: mine.start, boot: mine.boot });
      lock.release();
    }
  });

  it("refuses an unreadable lock file while it may still be being written, takes it over once old", async () => {
    await fs.writeFile(lockFile, "");
    await expect(lockDataFolder(dir)).rejects.toThrow(/is in use by another process/);
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lockFile, old, old);
    (await lockDataFolder(dir)).release();
  });

  it("takes over a stale lock even when a process died holding its takeover gate", async () => {
    const stale = JSON.stringify({ pid: deadPid(), start: "1", boot: null });
    await fs.writeFile(lockFile, stale);
    const gate = `${lockFile}.takeover-${createHash("sha256").update(stale).digest("hex").slice(0, 16)}`;
    await fs.writeFile(gate, JSON.stringify({ pid: deadPid(), start: "1", boot: null }));
    const lock = await lockDataFolder(dir);
    expect(await fs.readdir(dir)).toEqual(["cyphr.lock"]);
    lock.release();
  });

  it("grants a stale lock to exactly one of many racing takers, and leaves no stray files", async () => {
    for (let round = 0; round < 10; round++) {
      await fs.writeFile(lockFile, JSON.stringify({ pid: deadPid(), start: "1", boot: null }));
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => lockDataFolder(dir)));
      const granted = results.filter((r) => r.status === "fulfilled");
      expect(granted).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(String(r.reason)).toMatch(inUse);
      expect(await fs.readdir(dir)).toEqual(["cyphr.lock"]);
      (granted[0] as PromiseFulfilledResult<{ release(): void }>).value.release();
    }
  });
});
