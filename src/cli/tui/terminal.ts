/**
 * The full-screen terminal: the alternate screen and raw keys while a chat runs, and the
 * terminal as it was afterwards (also when the process ends by a signal or a failure).
 * Paints what screen.ts computes, at most once per turn of the event loop.
 */
import { emitKeypressEvents } from "node:readline";
import type { Key } from "./line-editor.js";
import type { Painted } from "./screen.js";

const ENTER_ALT = "\x1b[?1049h\x1b[H\x1b[2J";
const LEAVE_ALT = "\x1b[?25h\x1b[?1049l";

export class Terminal {
  private active = false;
  private scheduled = false;
  private readonly restoreOnExit = () => this.restore();

  constructor(
    private readonly input: NodeJS.ReadStream = process.stdin,
    private readonly output: NodeJS.WriteStream = process.stdout,
  ) {}

  get columns(): number {
    return this.output.columns || 80;
  }
  get rows(): number {
    return this.output.rows || 24;
  }

  /** Switches to the alternate screen and raw keys; `onKey` gets every key, `onResize` every size change. */
  enter(onKey: (input: string | undefined, key: Key | undefined) => void, onResize: () => void): void {
    if (!this.input.isTTY || !this.output.isTTY) throw new Error("not a terminal");
    this.active = true;
    process.once("exit", this.restoreOnExit);
    emitKeypressEvents(this.input);
    this.input.setRawMode(true);
    this.input.on("keypress", onKey);
    this.output.on("resize", onResize);
    this.input.resume();
    this.output.write(ENTER_ALT);
  }

  /** Paints on the next turn (many changes in one turn paint once). */
  schedule(paint: () => Painted): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.active) this.draw(paint());
    });
  }

  draw(p: Painted): void {
    let out = "\x1b[?25l";
    p.lines.forEach((line, i) => (out += `\x1b[${i + 1};1H${line}`));
    out += `\x1b[${p.cursorRow};${p.cursorCol}H\x1b[?25h`;
    this.output.write(out);
  }

  /** Leaves the alternate screen and raw mode: the terminal as it was before enter(). */
  restore(): void {
    if (!this.active) return;
    this.active = false;
    process.off("exit", this.restoreOnExit);
    this.input.removeAllListeners("keypress");
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
    this.output.write(LEAVE_ALT);
  }
}
