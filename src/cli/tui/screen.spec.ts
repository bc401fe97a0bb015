import { describe, expect, it } from "vitest";
import { EMPTY_LINE, editLine } from "./line-editor.js";
import { type Entry, paint, type ScreenState } from "./screen.js";
import { textWidth, wrap } from "./text-width.js";

const at = new Date(2026, 0, 1, 9, 5);
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function state(entries: Partial<Entry>[], extra: Partial<ScreenState> = {}): ScreenState {
  return {
    title: "alice_1 ↔ bob_1",
    connection: "live",
    entries: entries.map((e, i) => ({ seq: BigInt(i + 1), messageId: `m${i}`, sender: "bob_1", body: "", own: false, at, ...e })),
    typing: [],
    notice: undefined,
    line: EMPTY_LINE,
    ...extra,
  };
}

describe("the chat screen", () => {
  it("fills exactly the terminal: title, messages from the top, status, input with the cursor after the text", () => {
    const line = editLine(EMPTY_LINE, "hey", undefined)!;
    const p = paint(state([{ body: "hello" }, { sender: "alice_1", own: true, body: "hi", delivery: "read" }], { line }), 40, 8);
    const lines = p.lines.map(plain);
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(textWidth(l)).toBe(40);
    expect(lines[0]).toContain("alice_1 ↔ bob_1");
    expect(lines[1]!.trimEnd()).toBe("09:05 bob_1: hello");
    expect(lines[2]!.trimEnd()).toBe("09:05 alice_1: hi ✓✓ read");
    expect(lines[3]!.trim()).toBe("");
    expect(lines[7]!.trimEnd()).toBe("> hey");
    expect([p.cursorRow, p.cursorCol]).toEqual([8, 6]);
  });

  it("shows the newest messages when they overflow, wrapped to the width, and who is typing", () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ body: `message number ${i} with some words to wrap around` }));
    const lines = paint(state(many, { typing: ["bob_1"] }), 30, 10).lines.map(plain);
    expect(lines.slice(1, 8).join("\n")).toContain("29 with some words");
    expect(lines.join("\n")).not.toContain("27 with");
    expect(lines[8]!.trimEnd()).toBe("bob_1 is typing…");
  });

  it("scrolls a long input so the cursor stays visible, and says when the window is too small", () => {
    const line = editLine(EMPTY_LINE, "x".repeat(100), undefined)!;
    const p = paint(state([], { line }), 30, 6);
    expect(p.cursorCol).toBeLessThanOrEqual(30);
    expect(plain(p.lines[5]!)).toMatch(/^> x+ $/);
    expect(plain(paint(state([]), 10, 3).lines[0]!)).toContain("too small");
  });

  it("wraps at spaces, and breaks a word longer than the line", () => {
    expect(wrap("aaa bbb ccc", 7)).toEqual(["aaa bbb", "ccc"]);
    expect(wrap("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
    expect(textWidth("日本👍a")).toBe(7);
  });
});
