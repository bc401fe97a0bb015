import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";

/**
 * Returns the contents of `file`, creating it with `make()` (mode 0600) if absent. When
 * several processes race, the first writer wins and the others read its file.
 */
export async function readOrCreateFile(file: string, make: () => string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const contents = make();
  try {
    await fs.writeFile(file, contents, { mode: 0o600, flag: "wx" });
    return contents;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return fs.readFile(file, "utf8");
    throw error;
  }
}

/** A 32-byte random secret kept as hex in `file`. */
export async function readOrCreateSecret(file: string): Promise<string> {
  return (await readOrCreateFile(file, () => `${randomBytes(32).toString("hex")}\n`)).trim();
}
