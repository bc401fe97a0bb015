/**
 * One cyphr process per profile at a time: two processes over one MLS state would each advance
 * their own copy of it (and could reuse a message key), so a second one is refused until the
 * first ends. The lock is a file holding the owner's pid; one whose process is gone is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { CliError } from "./errors.js";

const LOCK_FILE = "cli.lock";

export function lockProfile(folder: string, name: string): void {
  const file = path.join(folder, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      process.once("exit", () => release(file));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number(readOwner(file));
    if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
      throw new CliError(`The profile "${name}" is in use by another cyphr process (pid ${owner}): wait for it to end, or use another --profile.`);
    }
    release(file); // left behind by a process that is gone
  }
  throw new CliError(`The profile "${name}" is locked by ${file}: remove it if no cyphr process uses the profile.`);
}

function readOwner(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function release(file: string): void {
  try {
    if (readOwner(file) === String(process.pid)) unlinkSync(file);
  } catch {
    // already gone
  }
}
