import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { EmbeddedStartError } from "./embedded-errors.js";
import { firstUnsearchableFolder, type RunAs } from "./postgres-user.js";

/**
 * Where clusters live when we are root and the data folder is out of the postgres user's
 * reach (a checkout under /root): root-owned and world-searchable, persistent across reboots.
 */
const REACHABLE_CLUSTERS = "/var/lib/cyphr";

/**
 * The folder of the PostgreSQL cluster: `<dataDir>/pg`. As root, when the OS user
 * `postgres` cannot enter the data folder, the cluster lives in
 * /var/lib/cyphr/<name>-<hash of the data folder>/pg instead, and `<dataDir>/pg` is a
 * symbolic link to it (so later starts, and people, find it there).
 */
export async function clusterFolder(dataDir: string, runAs: RunAs, log: Logger): Promise<string> {
  const inside = path.join(dataDir, "pg");
  if (!runAs.ids) return inside;
  const entry = await fs.lstat(inside).catch(() => undefined);
  if (entry?.isSymbolicLink()) {
    const target = path.resolve(dataDir, await fs.readlink(inside));
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    return target;
  }
  const blocked = await firstUnsearchableFolder(dataDir, runAs.ids);
  if (blocked === undefined) return inside;
  if (entry && (await fs.readdir(inside)).length > 0) {
    throw new EmbeddedStartError(
      `running as root, PostgreSQL runs as the OS user "postgres", which cannot enter ${blocked} to reach the cluster in ${inside}: ` +
        `move that folder to a world-searchable path and set CYPHR_DATA_DIR to it, or set DATABASE_URL`,
    );
  }
  const real = await fs.realpath(dataDir);
  const home = path.join(REACHABLE_CLUSTERS, `${path.basename(real)}-${createHash("sha256").update(real).digest("hex").slice(0, 12)}`);
  try {
    for (const folder of [REACHABLE_CLUSTERS, home]) {
      await fs.mkdir(folder, { recursive: true, mode: 0o755 });
      await fs.chmod(folder, 0o755);
    }
    if (entry) await fs.rmdir(inside);
    await fs.symlink(path.join(home, "pg"), inside);
  } catch (error) {
    throw new EmbeddedStartError(
      `running as root, PostgreSQL runs as the OS user "postgres", which cannot enter ${blocked}, and ${home} could not be ` +
        `prepared instead (${(error as Error).message}): set CYPHR_DATA_DIR to a folder under a world-searchable path, or set DATABASE_URL`,
    );
  }
  if ((await firstUnsearchableFolder(home, runAs.ids)) !== undefined) {
    throw new EmbeddedStartError(
      `running as root, the OS user "postgres" can reach neither ${blocked} nor ${home}: set CYPHR_DATA_DIR to a folder under a world-searchable path, or set DATABASE_URL`,
    );
  }
  log.info({ cluster: path.join(home, "pg"), link: inside }, 'the OS user "postgres" cannot enter the data folder; the PostgreSQL cluster lives outside it');
  return path.join(home, "pg");
}

/** Half-made clusters and password files of a start that was killed (we hold the data folder's lock). */
export async function removeLeftovers(clusterDir: string): Promise<void> {
  const parent = path.dirname(clusterDir);
  const prefix = `${path.basename(clusterDir)}.`;
  for (const name of await fs.readdir(parent).catch(() => [] as string[])) {
    if (name.startsWith(`${prefix}init-`) || name.startsWith(`${prefix}pw-`)) {
      await fs.rm(path.join(parent, name), { recursive: true, force: true });
    }
  }
}
