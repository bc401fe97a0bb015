/**
 * The chat screen's input line: text and a cursor, edited by keys. Pure and bounded
 * (MAX_INPUT characters), so the keys a terminal sends map to a testable state.
 */

/** Longest message the input line takes, in characters (the server's payload limit is 65,536 bytes). */
export const MAX_INPUT = 4000;

export interface LineState {
  /** The characters typed (code points, so that emoji move as one). */
  chars: string[];
  /** Cursor position in chars, 0..chars.length. */
  cursor: number;
}

/** A key as node:readline's keypress event reports it. */
export interface Key {
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
  sequence?: string;
}

export const EMPTY_LINE: LineState = { chars: [], cursor: 0 };

export function lineText(state: LineState): string {
  return state.chars.join("");
}

/** The state after one key; `undefined` when the key is not an edit (enter, ctrl-c, …: the caller's). */
export function editLine(state: LineState, input: string | undefined, key: Key | undefined): LineState | undefined {
  const { chars, cursor } = state;
  switch (key?.name) {
    case "backspace":
      return cursor === 0 ? state : { chars: [...chars.slice(0, cursor - 1), ...chars.slice(cursor)], cursor: cursor - 1 };
    case "delete":
      return { chars: [...chars.slice(0, cursor), ...chars.slice(cursor + 1)], cursor };
    case "left":
      return { chars, cursor: Math.max(0, cursor - 1) };
    case "right":
      return { chars, cursor: Math.min(chars.length, cursor + 1) };
    case "home":
      return { chars, cursor: 0 };
    case "end":
      return { chars, cursor: chars.length };
  }
  if (key?.ctrl) {
    if (key.name === "a") return { chars, cursor: 0 };
    if (key.name === "e") return { chars, cursor: chars.length };
    if (key.name === "u") return { chars: chars.slice(cursor), cursor: 0 };
    if (key.name === "k") return { chars: chars.slice(0, cursor), cursor };
    if (key.name === "w") {
      let start = cursor;
      while (start > 0 && chars[start - 1] === " ") start--;
      while (start > 0 && chars[start - 1] !== " ") start--;
      return { chars: [...chars.slice(0, start), ...chars.slice(cursor)], cursor: start };
    }
    return undefined;
  }
  if (key?.meta || input === undefined || key?.name === "return" || key?.name === "enter" || key?.name === "escape" || key?.name === "tab") return undefined;
  // Printable text (a paste arrives as one input): control characters never enter the line.
  const typed = [...input].filter((c) => c >= " " && c !== "\u007f" && !(c >= "\u0080" && c <= "\u009f"));
  if (typed.length === 0) return undefined;
  const room = Math.max(0, MAX_INPUT - chars.length);
  const added = typed.slice(0, room);
  return { chars: [...chars.slice(0, cursor), ...added, ...chars.slice(cursor)], cursor: cursor + added.length };
}
