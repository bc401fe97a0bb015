import { describe, expect, it } from "vitest";
import { EMPTY_LINE, editLine, type LineState, lineText, MAX_INPUT } from "./line-editor.js";

function type(state: LineState, ...steps: (string | { name: string; ctrl?: boolean })[]): LineState {
  for (const step of steps) {
    const next = typeof step === "string" ? editLine(state, step, undefined) : editLine(state, undefined, step);
    if (next) state = next;
  }
  return state;
}

describe("the chat input line", () => {
  it("inserts at the cursor, deletes before and after it, and moves by words and ends", () => {
    let s = type(EMPTY_LINE, "helo", { name: "left" }, "l");
    expect(lineText(s)).toBe("hello");
    expect(s.cursor).toBe(4);
    s = type(s, { name: "end" }, " world", { name: "backspace" }, { name: "home" }, { name: "delete" });
    expect(lineText(s)).toBe("ello worl");
    s = type(s, { name: "end" }, { name: "w", ctrl: true });
    expect(lineText(s)).toBe("ello ");
    s = type(s, { name: "u", ctrl: true });
    expect(s).toEqual(EMPTY_LINE);
  });

  it("keeps emoji whole and control characters out", () => {
    const s = type(EMPTY_LINE, "a👍b", "\u001b[31m", { name: "left" }, { name: "backspace" });
    expect(lineText(s)).toBe("a👍b[3m");
    expect(lineText(type(EMPTY_LINE, "x👍", { name: "backspace" }))).toBe("x");
  });

  it("leaves enter and ctrl-c to the caller and never grows past MAX_INPUT", () => {
    expect(editLine(EMPTY_LINE, "\r", { name: "return" })).toBeUndefined();
    expect(editLine(EMPTY_LINE, "\u0003", { name: "c", ctrl: true })).toBeUndefined();
    const full = type(EMPTY_LINE, "x".repeat(MAX_INPUT + 50));
    expect(full.chars).toHaveLength(MAX_INPUT);
    expect(type(full, "y").chars).toHaveLength(MAX_INPUT);
  });
});
