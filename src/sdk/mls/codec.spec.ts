import { describe, expect, it } from "vitest";
import { ChatLocks } from "./chat-lock.js";
import { decodeMessage, decodeRecord, encodeRecord, fromHex, toHex } from "./codec.js";

describe("the MLS engine's Store records", () => {
  it("round-trip bigints (beyond 2^53) and bytes exactly", () => {
    const value = { lastSeq: 2n ** 63n + 5n, joinedSeq: 0n, body: new Uint8Array([0, 1, 254, 255]), text: "é", nested: [{ n: 7n }] };
    expect(decodeRecord(encodeRecord(value))).toEqual(value);
  });

  it("writes hex both ways", () => {
    expect(toHex(new Uint8Array([0, 15, 16, 255]))).toBe("000f10ff");
    expect([...fromHex("000f10ff")]).toEqual([0, 15, 16, 255]);
  });

  it("reads bytes that are no MLS message as undefined, not a crash", () => {
    expect(decodeMessage(new Uint8Array([9, 9, 9]))).toBeUndefined();
    expect(decodeMessage(new Uint8Array(0))).toBeUndefined();
  });
});

describe("ChatLocks", () => {
  it("runs one operation per chat at a time, in call order, and goes on after a failure", async () => {
    const locks = new ChatLocks();
    const log: string[] = [];
    let release!: () => void;
    const first = locks.run("a", async () => {
      log.push("a1 start");
      await new Promise<void>((r) => (release = r));
      log.push("a1 end");
      throw new Error("a1 failed");
    });
    const second = locks.run("a", async () => log.push("a2"));
    const other = locks.run("b", async () => log.push("b1"));
    await other;
    expect(log).toEqual(["a1 start", "b1"]);
    release();
    await expect(first).rejects.toThrow("a1 failed");
    await second;
    expect(log).toEqual(["a1 start", "b1", "a1 end", "a2"]);
  });
});
