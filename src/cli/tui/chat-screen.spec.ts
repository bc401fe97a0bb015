import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ChatActions, ChatScreen, TYPING_IDLE_MS, TYPING_SHOWN_MS } from "./chat-screen.js";

function setup() {
  const calls = { sent: [] as string[], typing: [] as boolean[], read: [] as bigint[], quit: 0 };
  let nextSeq = 10n;
  const actions: ChatActions = {
    send: async (text) => {
      calls.sent.push(text);
      return { messageId: `sent-${text}`, seq: nextSeq++ };
    },
    setTyping: (t) => calls.typing.push(t),
    markRead: (seq) => calls.read.push(seq),
    quit: () => calls.quit++,
    changed: () => {},
  };
  const screen = new ChatScreen("alice", "alice ↔ bob", actions);
  const type = (text: string) => {
    for (const ch of text) screen.key(ch, { name: ch, sequence: ch });
  };
  const enter = () => screen.key("\r", { name: "return" });
  return { screen, calls, type, enter };
}

const msg = (seq: bigint, sender: string, body: string) => ({ seq, messageId: `m${seq}`, sender, body, own: sender === "alice", at: new Date() });

describe("the chat screen's rules", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("keeps messages in seq order without duplicates, and marks what others sent as read", () => {
    const { screen, calls } = setup();
    screen.message(msg(3n, "bob", "third"));
    screen.message(msg(1n, "bob", "first"));
    screen.message(msg(3n, "bob", "third, again"));
    expect(screen.state.entries.map((e) => e.body)).toEqual(["first", "third, again"]);
    expect(calls.read).toEqual([3n, 1n, 3n]);
  });

  it("sends on Enter, shows the message as sending, then sent, delivered and read from bob's receipts", async () => {
    const { screen, calls, type, enter } = setup();
    type("hi bob");
    enter();
    expect(screen.state.entries.map((e) => [e.body, e.delivery])).toEqual([["hi bob", "sending"]]);
    await vi.runAllTimersAsync();
    expect(calls.sent).toEqual(["hi bob"]);
    expect(screen.state.entries.map((e) => [e.seq, e.delivery])).toEqual([[10n, "sent"]]);
    screen.message({ ...msg(10n, "alice", "hi bob"), messageId: "sent-hi bob" }); // the live echo of the same message
    expect(screen.state.entries).toHaveLength(1);
    screen.receipt("bob", 10n, 0n);
    expect(screen.state.entries[0]!.delivery).toBe("delivered");
    screen.receipt("bob", 10n, 10n);
    expect(screen.state.entries[0]!.delivery).toBe("read");
  });

  it("says typing once while typing, stopped when idle or on send; shows bob typing until it expires", async () => {
    const { screen, calls, type, enter } = setup();
    type("abc");
    expect(calls.typing).toEqual([true]);
    await vi.advanceTimersByTimeAsync(TYPING_IDLE_MS + 10);
    expect(calls.typing).toEqual([true, false]);
    type("d");
    enter();
    expect(calls.typing).toEqual([true, false, true, false]);

    screen.typing("bob", true);
    expect(screen.paint(40, 8).lines[6]).toContain("bob is typing…");
    await vi.advanceTimersByTimeAsync(TYPING_SHOWN_MS + 10);
    expect(screen.state.typing).toEqual([]);
  });

  it("leaves on /quit and on Ctrl-C; an unknown command only says so", () => {
    const { screen, calls, type, enter } = setup();
    type("/nope");
    enter();
    expect(screen.state.notice).toContain("Unknown command /nope");
    type("/quit");
    enter();
    screen.key("\u0003", { name: "c", ctrl: true });
    expect(calls.quit).toBe(2);
    expect(calls.sent).toEqual([]);
  });
});
