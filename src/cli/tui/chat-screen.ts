/**
 * The interactive chat's state and rules, apart from the terminal and the network: messages in
 * seq order (deduplicated by id, at most MAX_ENTRIES), the delivery marks of one's own messages
 * from the others' receipts, who is typing, the input line, and what Enter and Ctrl-C do.
 * commands/chat.ts connects it to Live, the MLS engine and the Terminal.
 */
import { EMPTY_LINE, editLine, type Key, lineText } from "./line-editor.js";
import { type Delivery, type Entry, MAX_ENTRIES, type Painted, paint, type ScreenState } from "./screen.js";

/** What the screen asks of the outside world. */
export interface ChatActions {
  send(text: string): Promise<{ messageId: string; seq: bigint }>;
  setTyping(typing: boolean): void;
  /** The chat is on screen: what arrived up to `seq` is read. */
  markRead(seq: bigint): void;
  quit(): void;
  /** Something changed: paint again. */
  changed(): void;
}

/** A typing indicator not refreshed for this long is dropped (the server stops one after 10 s). */
export const TYPING_SHOWN_MS = 12_000;
/** While typing, "typing" is sent again this often, and "stopped" after this long idle. */
export const TYPING_REFRESH_MS = 5_000;
export const TYPING_IDLE_MS = 4_000;

const HELP = "/quit leaves · Ctrl-C leaves · Enter sends";

export class ChatScreen {
  readonly state: ScreenState;
  private readonly receipts = new Map<string, { delivered: bigint; read: bigint }>();
  private readonly typingTimers = new Map<string, NodeJS.Timeout>();
  private typingSentAt = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly me: string,
    title: string,
    private readonly actions: ChatActions,
  ) {
    this.state = { title, connection: "connecting…", entries: [], typing: [], notice: HELP, line: EMPTY_LINE };
  }

  paint(cols: number, rows: number): Painted {
    return paint(this.state, cols, rows);
  }

  /** A message to show (from history or live); a known id is updated in place. */
  message(m: Omit<Entry, "delivery">): void {
    const entries = this.state.entries;
    const known = entries.findIndex((e) => e.messageId === m.messageId);
    if (known >= 0) {
      entries[known] = { ...entries[known]!, ...m, delivery: entries[known]!.delivery };
    } else {
      const entry: Entry = { ...m, ...(m.own ? { delivery: "sent" as Delivery } : {}) };
      let at = entries.length;
      while (at > 0 && (entries[at - 1]!.seq === 0n || entries[at - 1]!.seq > m.seq)) at--;
      entries.splice(at, 0, entry);
      if (entries.length > MAX_ENTRIES) entries.splice(0, entries.length - MAX_ENTRIES);
    }
    if (!m.own) {
      this.typing(m.sender, false);
      this.actions.markRead(m.seq);
    }
    this.updateDeliveries();
  }

  remove(messageId: string): void {
    const at = this.state.entries.findIndex((e) => e.messageId === messageId);
    if (at >= 0) this.state.entries.splice(at, 1);
    this.actions.changed();
  }

  typing(cyphrId: string, typing: boolean): void {
    if (cyphrId === this.me) return;
    clearTimeout(this.typingTimers.get(cyphrId));
    this.typingTimers.delete(cyphrId);
    const others = this.state.typing.filter((id) => id !== cyphrId);
    if (typing) {
      others.push(cyphrId);
      this.typingTimers.set(cyphrId, setTimeout(() => this.typing(cyphrId, false), TYPING_SHOWN_MS).unref());
    }
    this.state.typing = others;
    this.actions.changed();
  }

  receipt(cyphrId: string, delivered: bigint, read: bigint): void {
    if (cyphrId === this.me) return;
    this.receipts.set(cyphrId, { delivered, read });
    this.updateDeliveries();
  }

  connection(text: string): void {
    this.state.connection = text;
    this.actions.changed();
  }

  notice(text: string | undefined): void {
    this.state.notice = text;
    this.actions.changed();
  }

  /** One key from the terminal. */
  key(input: string | undefined, key: Key | undefined): void {
    if ((key?.ctrl && key.name === "c") || (key?.ctrl && key.name === "d" && this.state.line.chars.length === 0)) return this.leave();
    if (key?.name === "return" || key?.name === "enter") return this.enter();
    const next = editLine(this.state.line, input, key);
    if (next === undefined) return;
    this.state.line = next;
    this.typedSomething();
    this.actions.changed();
  }

  /** Stops the timers (the screen is going away). */
  close(): void {
    clearTimeout(this.idleTimer);
    for (const t of this.typingTimers.values()) clearTimeout(t);
  }

  private enter(): void {
    const text = lineText(this.state.line).trim();
    this.state.line = EMPTY_LINE;
    this.stopTyping();
    if (text === "") return this.actions.changed();
    if (text.startsWith("/")) return this.command(text);
    const pending: Entry = {
      seq: 0n,
      messageId: `pending-${Date.now()}-${Math.random()}`,
      sender: this.me,
      body: text,
      own: true,
      at: new Date(),
      delivery: "sending",
    };
    this.state.entries.push(pending);
    this.actions.changed();
    this.actions.send(text).then(
      ({ messageId, seq }) => {
        const entries = this.state.entries;
        const at = entries.indexOf(pending);
        if (at >= 0) entries.splice(at, 1);
        this.message({ seq, messageId, sender: this.me, body: text, own: true, at: pending.at });
      },
      (error: unknown) => {
        pending.delivery = "failed";
        this.notice(`Not sent: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  private command(text: string): void {
    const name = text.split(/\s+/)[0]!.toLowerCase();
    if (name === "/quit" || name === "/exit" || name === "/q") return this.leave();
    this.notice(name === "/help" ? HELP : `Unknown command ${name}: ${HELP}`);
  }

  private leave(): void {
    this.stopTyping();
    this.actions.quit();
  }

  private typedSomething(): void {
    if (this.state.line.chars.length === 0) return this.stopTyping();
    const now = Date.now();
    if (now - this.typingSentAt >= TYPING_REFRESH_MS) {
      this.typingSentAt = now;
      this.actions.setTyping(true);
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS).unref();
  }

  private stopTyping(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.typingSentAt === 0) return;
    this.typingSentAt = 0;
    this.actions.setTyping(false);
  }

  private updateDeliveries(): void {
    const others = [...this.receipts.values()];
    for (const e of this.state.entries) {
      if (!e.own || e.seq === 0n || e.delivery === "failed") continue;
      e.delivery = others.some((r) => r.read >= e.seq) ? "read" : others.some((r) => r.delivered >= e.seq) ? "delivered" : "sent";
    }
    this.actions.changed();
  }
}
