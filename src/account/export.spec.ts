import { describe, expect, it } from "vitest";
import { Chunker, EXPORT_CHUNK_BYTES } from "./export.js";

describe("export chunks", () => {
  it("hands out full 64 KiB chunks and the rest at flush; together they are the text's UTF-8 bytes", () => {
    const chunker = new Chunker();
    const pieces = ["{", "é".repeat(40_000), "x".repeat(70_000), "😀".repeat(5), "}"];
    const chunks = [...pieces.flatMap((p) => [...chunker.push(p)]), ...chunker.flush()];
    expect(chunks.slice(0, -1).every((c) => c.length === EXPORT_CHUNK_BYTES)).toBe(true);
    expect(chunks.at(-1)!.length).toBeLessThanOrEqual(EXPORT_CHUNK_BYTES);
    expect(Buffer.concat(chunks).toString("utf8")).toBe(pieces.join(""));
  });

  it("flushes nothing when nothing is pending", () => {
    const chunker = new Chunker();
    expect([...chunker.flush()]).toEqual([]);
  });
});
