import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { EmbeddedStartError } from "./embedded-errors.js";

const run = promisify(execFile);

/** The OS identity PostgreSQL runs as: ours, or (when we are root) the user `postgres`. */
export interface RunAs {
  /** Set only when we are root: spawn PostgreSQL with these ids. */
  ids: { uid: number; gid: number } | undefined;
}

/**
 * PostgreSQL refuses to run as root. As root, it runs as the OS user `postgres`, created
 * (as a system user) when missing.
 */
export async function postgresRunAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return { ids: undefined };
  const found = await lookUp("postgres");
  if (found) return { ids: found };
  try {
    await run("groupadd", ["--system", "postgres"]).catch(async (error: unknown) => {
      // exit 9: the group exists already
      if ((error as { code?: number }).code !== 9) throw error;
    });
    await run("useradd", ["--system", "--gid", "postgres", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
  } catch {
    throw new EmbeddedStartError(
      'running as root, PostgreSQL must run as the OS user "postgres", which does not exist and could not be created ' +
        "(groupadd/useradd failed): create that user, run as a non-root user, or set DATABASE_URL",
    );
  }
  const created = await lookUp("postgres");
  if (!created) throw new EmbeddedStartError('the OS user "postgres" was created but cannot be looked up with `id`');
  return { ids: created };
}

async function lookUp(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * Whether a process running as `ids` can enter `dir` (and so reach what is inside, given
 * the files' own modes): every folder from the root down must grant it search permission.
 * Returns the first folder that does not, or undefined.
 */
export async function firstUnsearchableFolder(dir: string, ids: { uid: number; gid: number }): Promise<string | undefined> {
  const real = await fs.realpath(dir);
  for (let current = real; ; current = path.dirname(current)) {
    const { mode, uid, gid } = await fs.stat(current);
    const bit = uid === ids.uid ? fsConstants.S_IXUSR : gid === ids.gid ? fsConstants.S_IXGRP : fsConstants.S_IXOTH;
    if ((mode & bit) === 0) return current;
    if (current === path.dirname(current)) return undefined;
  }
}

/** mkdir -p, then hand the folder (not its parents) to `ids` with `mode`. */
export async function makeOwnedFolder(dir: string, runAs: RunAs, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  await fs.chmod(dir, mode);
  if (runAs.ids) await fs.chown(dir, runAs.ids.uid, runAs.ids.gid);
}
