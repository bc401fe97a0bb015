/**
 * What the chat screen shows, as a pure function of its state and the terminal size: a title
 * bar, the messages (newest at the bottom of the area, wrapped to the width), a status line
 * (typing, receipts, connection) and the input line with the cursor. terminal.ts paints it.
 */
import { type LineState, lineText } from "./line-editor.js";
import { charWidth, fitToWidth, textWidth, wrap } from "./text-width.js";

/** Messages the screen keeps; older ones scroll out of memory (history shows them). */
export const MAX_ENTRIES = 500;

export type Delivery = "sending" | "sent" | "delivered" | "read" | "failed";

export interface Entry {
  /** 0n while sending. */
  seq: bigint;
  messageId: string;
  sender: string;
  body: string;
  own: boolean;
  /** When it was sent, when known (history does not say). */
  at?: Date;
  delivery?: Delivery;
}

export interface ScreenState {
  title: string;
  connection: string;
  entries: Entry[];
  /** Cyphr ids typing now. */
  typing: string[];
  /** A one-line notice (an error, a hint); shown instead of the receipts line. */
  notice: string | undefined;
  line: LineState;
}

export interface Painted {
  lines: string[];
  /** 1-based terminal position of the cursor (in the input line). */
  cursorRow: number;
  cursorCol: number;
}

const PROMPT = "> ";
const MARKS: Record<Delivery, string> = { sending: " …", sent: " ✓", delivered: " ✓✓", read: " ✓✓ read", failed: " ✗ not sent" };

export function paint(state: ScreenState, cols: number, rows: number): Painted {
  if (cols < 20 || rows < 5) {
    const lines = Array.from({ length: Math.max(1, rows) }, (_, i) => (i === 0 ? fitToWidth("too small", Math.max(1, cols)) : fitToWidth("", cols)));
    return { lines, cursorRow: 1, cursorCol: 1 };
  }
  const title = fitToWidth(` ${state.title}  ·  ${state.connection}  ·  /quit or Ctrl-C to leave`, cols);
  const area = rows - 3;
  const body = messageLines(state.entries, cols, area);
  const status = fitToWidth(statusLine(state), cols);
  const { text, cursorCol } = inputLine(state.line, cols);
  return {
    lines: [`\x1b[7m${title}\x1b[0m`, ...body.map((l) => fitToWidth(l, cols)), `\x1b[2m${status}\x1b[0m`, text],
    cursorRow: rows,
    cursorCol,
  };
}

export function entryText(e: Entry): string {
  const time = e.at ? `${String(e.at.getHours()).padStart(2, "0")}:${String(e.at.getMinutes()).padStart(2, "0")} ` : "";
  return `${time}${e.sender}: ${e.body}${e.own && e.delivery ? MARKS[e.delivery] : ""}`;
}

/** The last `area` wrapped lines of the entries, top-aligned when they do not fill it. */
function messageLines(entries: Entry[], cols: number, area: number): string[] {
  const lines: string[] = [];
  for (let i = entries.length - 1; i >= 0 && lines.length < area; i--) {
    const wrapped = wrap(entryText(entries[i]!), cols - 2).map((l, j) => (j === 0 ? l : `  ${l}`));
    lines.unshift(...wrapped);
  }
  const shown = lines.slice(Math.max(0, lines.length - area));
  while (shown.length < area) shown.push("");
  return shown;
}

function statusLine(state: ScreenState): string {
  if (state.typing.length === 1) return `${state.typing[0]} is typing…`;
  if (state.typing.length > 1) return `${state.typing.join(", ")} are typing…`;
  return state.notice ?? "";
}

/** The prompt and the part of the input around the cursor that fits. */
function inputLine(line: LineState, cols: number): { text: string; cursorCol: number } {
  const room = cols - PROMPT.length - 1;
  const before = line.chars.slice(0, line.cursor);
  let start = 0;
  while (textWidth(before.slice(start).join("")) > room) start++;
  const visible = fitToWidth(line.chars.slice(start).join(""), room + 1);
  const cursorCol = PROMPT.length + 1 + before.slice(start).reduce((w, ch) => w + charWidth(ch), 0);
  return { text: `${PROMPT}${visible}`, cursorCol: Math.min(cursorCol, cols) };
}

export function isEmpty(line: LineState): boolean {
  return lineText(line).trim() === "";
}
