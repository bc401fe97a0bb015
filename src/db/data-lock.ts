import { createHash, randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { EmbeddedStartError } from "./embedded-errors.js";

/** The exclusive hold of one process on a data folder. */
export interface DataFolderLock {
  /** Removes the lock file if it is still ours. Synchronous, so it also runs on 'exit'. */
  release(): void;
}

/** Who holds a lock: enough to tell, later, whether that very process still runs. */
interface Owner {
  pid: number;
  /** Start time of the process (clock ticks since boot, /proc/<pid>/stat), null where unknown. */
  start: string | null;
  /** The kernel's boot id: a lock from before a reboot names no running process. */
  boot: string | null;
}

const LOCK_FILE = "cyphr.lock";
/** A lock file that cannot be parsed is taken for one being written until it is this old. */
const UNREADABLE_GRACE_MS = 10_000;

/**
 * Takes `<dir>/cyphr.lock` for this process, for as long as it runs. The file names the
 * owner's pid, start time and boot id (and a nonce: no two locks read the same); a lock
 * whose owner is provably gone (no such pid, a pid reused by another process, another
 * boot) is taken over, any other refuses the start with a one-line error.
 *
 * The file appears complete (hard link of a written file). A stale lock is removed only
 * by the process that holds its takeover gate (`cyphr.lock.takeover-<hash of the stale
 * lock>`, taken the same way), which checks that the stale lock is still there first;
 * so of many processes racing for one stale lock, exactly one gets the folder.
 */
export async function lockDataFolder(dir: string): Promise<DataFolderLock> {
  const lockPath = path.join(dir, LOCK_FILE);
  const mine = JSON.stringify({ ...(await ownerOf(process.pid)), nonce: randomBytes(8).toString("hex") });
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await createExclusively(lockPath, mine)) return heldLock(lockPath, mine);
    const text = await readIfPresent(lockPath);
    if (text === undefined) continue;
    if (await isHeld(lockPath, text)) {
      const owner = parse(text);
      throw new EmbeddedStartError(
        `the data folder ${dir} is in use by ${owner ? `process ${owner.pid}` : "another process"} (another Cyphr server?): ` +
          "stop it first, or set CYPHR_DATA_DIR to another folder",
      );
    }
    await removeStale(lockPath, text, mine);
  }
  throw new EmbeddedStartError(`could not lock the data folder ${dir}: ${LOCK_FILE} keeps changing`);
}

async function createExclusively(lockPath: string, contents: string): Promise<boolean> {
  const staging = `${lockPath}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await fs.writeFile(staging, contents, { mode: 0o644, flag: "wx" });
  try {
    await fs.link(staging, lockPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
    // A file system without hard links: exclusive create, briefly visible before it is written.
    return fs.writeFile(lockPath, contents, { mode: 0o644, flag: "wx" }).then(
      () => true,
      (e: NodeJS.ErrnoException) => (e.code === "EEXIST" ? false : Promise.reject(e)),
    );
  } finally {
    await fs.rm(staging, { force: true });
  }
}

/**
 * Removes the stale lock `staleText` if this process gets its takeover gate; otherwise
 * waits a moment for the process that has it (or clears a gate whose holder died).
 */
async function removeStale(lockPath: string, staleText: string, mine: string): Promise<void> {
  const gate = `${lockPath}.takeover-${createHash("sha256").update(staleText).digest("hex").slice(0, 16)}`;
  if (!(await createExclusively(gate, mine))) {
    const holder = await readIfPresent(gate);
    if (holder !== undefined && !(await isHeld(gate, holder)) && (await readIfPresent(gate)) === holder) await fs.rm(gate, { force: true });
    else await new Promise((resolve) => setTimeout(resolve, 10));
    return;
  }
  try {
    // Nobody else removes or replaces this stale lock while we hold its gate.
    if ((await readIfPresent(lockPath)) === staleText) await fs.rm(lockPath, { force: true });
  } finally {
    await fs.rm(gate, { force: true });
  }
}

async function readIfPresent(file: string): Promise<string | undefined> {
  return fs.readFile(file, "utf8").catch(() => undefined);
}

/** Whether the process named in a lock file still runs (a file that cannot be parsed may still be being written). */
async function isHeld(file: string, text: string): Promise<boolean> {
  const owner = parse(text);
  return owner ? isRunning(owner) : isYoung(file);
}

function heldLock(lockPath: string, mine: string): DataFolderLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off("exit", release);
    try {
      if (readFileSync(lockPath, "utf8") === mine) unlinkSync(lockPath);
    } catch {
      // Already gone.
    }
  };
  process.once("exit", release);
  return { release };
}

async function ownerOf(pid: number): Promise<Owner> {
  return { pid, start: await startTimeOf(pid), boot: await bootId() };
}

async function isRunning(owner: Owner): Promise<boolean> {
  const boot = await bootId();
  if (owner.boot && boot && owner.boot !== boot) return false;
  if (!isAlive(owner.pid)) return false;
  if (owner.start === null) return true;
  const start = await startTimeOf(owner.pid);
  // Unreadable /proc: not provably another process.
  return start === null || start === owner.start;
}

function parse(text: string): Owner | undefined {
  try {
    const value = JSON.parse(text) as Partial<Owner>;
    if (!Number.isInteger(value.pid) || (value.pid as number) <= 0) return undefined;
    return { pid: value.pid as number, start: value.start ?? null, boot: value.boot ?? null };
  } catch {
    return undefined;
  }
}

async function isYoung(file: string): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs < UNREADABLE_GRACE_MS;
}

/** Field 22 of /proc/<pid>/stat; fields are counted after the command name, which may hold spaces. */
async function startTimeOf(pid: number): Promise<string | null> {
  if (process.platform !== "linux") return null;
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return null;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
}

async function bootId(): Promise<string | null> {
  if (process.platform !== "linux") return null;
  return (await fs.readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => "")).trim() || null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
