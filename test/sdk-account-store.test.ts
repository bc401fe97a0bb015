import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CyphrError } from "../src/sdk/errors.js";
import { FileStore } from "../src/sdk/node/file-store.js";

/** Cheap argon2id parameters for tests; the default profile uses 64 MiB. */
const kdf = { memoryCost: 8_192, timeCost: 1, parallelism: 1 };

async function folder(): Promise<string> {
  return path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-sdk-store-")), "profile");
}

describe("SDK FileStore (passphrase-encrypted profile folder)", () => {
  it("round-trips values, lists keys by prefix, deletes, and reopens with the same passphrase", async () => {
    const dir = await folder();
    const store = await FileStore.open(dir, "correct horse", { kdf });
    await store.set("device/keys", new Uint8Array([1, 2, 3]));
    await store.set("device/session", new Uint8Array([4]));
    await store.set("mls/group/x", new Uint8Array(0));
    expect(await store.get("device/keys")).toEqual(new Uint8Array([1, 2, 3]));
    expect(await store.get("absent")).toBeUndefined();
    expect((await store.keys("device/")).sort()).toEqual(["device/keys", "device/session"]);
    await store.set("device/keys", new Uint8Array([9]));
    await store.delete("device/session");

    const reopened = await FileStore.open(dir, "correct horse");
    expect(await reopened.get("device/keys")).toEqual(new Uint8Array([9]));
    expect(await reopened.get("device/session")).toBeUndefined();
    expect(await reopened.get("mls/group/x")).toEqual(new Uint8Array(0));
    expect(await reopened.keys("")).toHaveLength(2);
  });

  it("refuses a wrong passphrase with a typed error a person can act on", async () => {
    const dir = await folder();
    const store = await FileStore.open(dir, "right", { kdf });
    await store.set("device/keys", new Uint8Array([1]));
    const error = await FileStore.open(dir, "wrong").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CyphrError);
    expect((error as CyphrError).code).toBe("unauthenticated");
    expect((error as CyphrError).message).toMatch(/wrong passphrase/i);
  });

  it("keeps nothing readable on disk: neither values nor key names, folder 0700 and files 0600, no temp files left", async () => {
    const dir = await folder();
    const store = await FileStore.open(dir, "pass", { kdf });
    const secret = new TextEncoder().encode("PLAINTEXT-SECRET-VALUE-0123456789");
    await store.set("account/identity-secret-name", secret);
    await store.set("account/identity-secret-name", secret);
    const files = await fs.readdir(dir);
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of files) {
      const bytes = await fs.readFile(path.join(dir, file));
      expect(file).not.toContain("identity");
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(bytes.includes(Buffer.from("PLAINTEXT-SECRET"))).toBe(false);
      expect(bytes.includes(Buffer.from("identity-secret-name"))).toBe(false);
      expect(bytes.toString("hex")).not.toContain(Buffer.from(secret).toString("hex"));
      expect((await fs.stat(path.join(dir, file))).mode & 0o777).toBe(0o600);
    }
    expect(files).toHaveLength(2);
  });

  it("reports a file changed on disk as damaged (data_loss), not as a value", async () => {
    const dir = await folder();
    const store = await FileStore.open(dir, "pass", { kdf });
    await store.set("k", new Uint8Array([1, 2, 3, 4]));
    const [file] = (await fs.readdir(dir)).filter((f) => f.endsWith(".v"));
    const bytes = await fs.readFile(path.join(dir, file!));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    await fs.writeFile(path.join(dir, file!), bytes);
    await expect(store.get("k")).rejects.toMatchObject({ code: "data_loss" });
  });
});
