/**
 * `cyphr chat <user|chat>`: the interactive full-screen chat. History first, then Live's
 * decrypted events as they come (messages, edits, deletes, typing, receipts, the stream's
 * state); what is typed is sent with the MLS engine. Ctrl-C or /quit restores the terminal.
 */
import type { Command } from "commander";
import { call } from "../../sdk/errors.js";
import { PeerIdentities } from "../../sdk/index.js";
import { Live, type LiveState } from "../../sdk/realtime/index.js";
import { ensureJoined, resolveChat } from "../chat-directory.js";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { messageBody, safetyNumberText, sanitize } from "../message-lines.js";
import { openSession } from "../session.js";
import { ChatScreen } from "../tui/chat-screen.js";
import { MAX_ENTRIES } from "../tui/screen.js";
import { Terminal } from "../tui/terminal.js";

/** How long leaving waits for Live to flush its acks and receipts. */
const CLOSE_WAIT_MS = 3_000;
/** Read receipts are sent at most this often. */
const READ_RECEIPT_MS = 500;

export function chatCommand(program: Command): void {
  program
    .command("chat")
    .description("chat interactively: messages live, typing and read receipts; /quit or Ctrl-C leaves")
    .argument("<user|chat>", "a user's cyphr id (your direct chat, started if needed) or a chat id")
    .action(
      action(async ({ globals, out }, target: string) => {
        if (!process.stdin.isTTY || !process.stdout.isTTY) {
          throw new CliError("`cyphr chat` needs a terminal: in scripts use `cyphr send` and `cyphr history`.", EXIT.usage);
        }
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: true });
        await ensureJoined(session, chat.chatId);
        await session.mls.ensureKeyPackages();
        const { chatId } = chat;
        // Opening a chat by name answers its request: the other side then sees typing and receipts.
        const accepted = chat.chat?.request === true;
        if (accepted) await call(async () => session.privacy.acceptChat({ chatId }, await session.auth()));
        const me = session.account.cyphrId;
        const terminal = new Terminal();
        const live = new Live({ transport: session.transport, account: session.account, mls: session.mls, store: session.profile.store });
        let finish = () => {};
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const noticeOf = (error: unknown): void => screen.notice(sanitize(error instanceof Error ? error.message : String(error)));
        const markRead: (seq: bigint) => void = highestEvery(READ_RECEIPT_MS, (seq) => void live.markRead(chatId, seq).catch(noticeOf));
        const screen: ChatScreen = new ChatScreen(me, `${me} ↔ ${chat.title}`, {
          send: (text) => session.mls.send(chatId, text),
          setTyping: (typing) => void live.setTyping(chatId, typing).catch(noticeOf),
          markRead,
          quit: () => finish(),
          changed: () => terminal.schedule(() => screen.paint(terminal.columns, terminal.rows)),
        });

        const lastSeq = chat.chat?.lastSeq ?? 0n;
        const afterSeq = lastSeq > BigInt(MAX_ENTRIES) ? lastSeq - BigInt(MAX_ENTRIES) : 0n;
        for (const m of await session.mls.history(chatId, { afterSeq })) {
          screen.message({ seq: m.seq, messageId: m.messageId, sender: m.senderCyphrId, body: sanitize(messageBody(m)), own: m.senderCyphrId === me });
        }
        const safetyNumberChanged = (n: { cyphrId: string; safetyNumber: string; afterSeq: bigint; at: Date }) =>
          screen.message({
            seq: n.afterSeq,
            messageId: `identity:${n.cyphrId}:${n.at.getTime()}`,
            sender: "--",
            body: safetyNumberText(n),
            own: false,
            at: n.at,
          });
        for (const n of await new PeerIdentities(session.profile.store).noticesIn(chatId)) if (n.afterSeq >= afterSeq) safetyNumberChanged(n);
        live.on("message", (e) => {
          if (e.chatId !== chatId) return;
          const body = e.text ?? `(${e.bytes.length} bytes)`;
          screen.message({ seq: e.seq, messageId: e.messageId, sender: e.sender.cyphrId, body: sanitize(body), own: e.sender.cyphrId === me, at: e.sentAt });
        });
        live.on("edited", (e) => {
          if (e.chatId !== chatId) return;
          const body = `${e.text ?? `(${e.bytes.length} bytes)`} (edited)`;
          screen.message({ seq: e.seq, messageId: e.messageId, sender: e.sender.cyphrId, body: sanitize(body), own: e.sender.cyphrId === me, at: e.sentAt });
        });
        live.on("unreadable", (e) => {
          if (e.chatId !== chatId) return;
          screen.message({
            seq: e.seq,
            messageId: e.messageId,
            sender: e.sender.cyphrId,
            body: `(cannot read: ${e.reason.replace(/_/g, " ")})`,
            own: false,
            at: e.sentAt,
          });
        });
        live.on("identity_changed", (e) => {
          if (!e.chatIds.includes(chatId)) return;
          void new PeerIdentities(session.profile.store).noticesIn(chatId).then((notices) => {
            const latest = notices.filter((n) => n.cyphrId === e.cyphrId).at(-1);
            if (latest) safetyNumberChanged(latest);
            screen.notice(safetyNumberText(e));
          }, noticeOf);
        });
        live.on("deleted", (e) => e.chatId === chatId && screen.remove(e.messageId));
        live.on("typing", (e) => e.chatId === chatId && screen.typing(e.cyphrId, e.typing));
        live.on("receipt", (e) => e.chatId === chatId && screen.receipt(e.cyphrId, e.deliveredSeq, e.readSeq));
        live.on("state", (s) => screen.connection(stateText(s)));
        live.on("error", (e) => (e.chatId === undefined || e.chatId === chatId) && noticeOf(e.error));

        const onSignal = () => finish();
        for (const signal of ["SIGTERM", "SIGHUP"] as const) process.once(signal, onSignal);
        terminal.enter(
          (input, key) => screen.key(input, key),
          () => screen.connection(screen.state.connection), // repaint at the new size
        );
        if (accepted) screen.notice(`You accepted this chat request from ${chat.title}.`);
        try {
          screen.connection("connecting…");
          live.start().catch(noticeOf);
          await finished;
        } finally {
          screen.close();
          terminal.restore();
          for (const signal of ["SIGTERM", "SIGHUP"] as const) process.off(signal, onSignal);
          out.note(`Left the chat with ${chat.title}.`);
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([live.close(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
          clearTimeout(timer);
        }
      }),
    );
}

function stateText(s: LiveState): string {
  switch (s.state) {
    case "connecting":
      return s.attempt > 1 ? `connecting (attempt ${s.attempt})…` : "connecting…";
    case "live":
      return "catching up…";
    case "caught_up":
      return "live";
    case "reconnecting":
      return `offline, retrying in ${Math.ceil(s.delayMs / 1000)} s`;
    case "closed":
      return s.error ? `closed: ${sanitize(s.error.message)}` : "closed";
  }
}

/** Calls `run` with the highest seq seen, at most once per `ms` (the last one always goes out). */
function highestEvery(ms: number, run: (seq: bigint) => void): (seq: bigint) => void {
  let highest: bigint | undefined;
  let timer: NodeJS.Timeout | undefined;
  return (seq: bigint) => {
    if (highest === undefined || seq > highest) highest = seq;
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (highest !== undefined) run(highest);
      highest = undefined;
    }, ms);
  };
}
