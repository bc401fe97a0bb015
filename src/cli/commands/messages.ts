/** chats, history and send. */

import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { ChatKind } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { call } from "../../sdk/errors.js";
import { PeerIdentities } from "../../sdk/index.js";
import { HISTORY_PAGE_LIMIT } from "../../sdk/mls/index.js";
import { ensureJoined, listChats, resolveChat, titleOf } from "../chat-directory.js";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { historyLines, messageJson } from "../message-lines.js";
import { formatDate } from "../output.js";
import { openSession } from "../session.js";

/** Most bytes `send <chat> -` reads from stdin (the server's default payload limit is 65,536 bytes, ciphertext included). */
export const MAX_STDIN_TEXT = 60_000;

export function messageCommands(program: Command): void {
  program
    .command("chats")
    .description("list your chats, most recent first")
    .action(
      action(async ({ globals, out }) => {
        const session = await openSession(globals.profile);
        const chats = await listChats(session);
        const rows = chats.map((c) => ({
          chatId: c.chatId,
          kind: c.kind === ChatKind.DIRECT ? "direct" : "group",
          title: titleOf(c),
          peer: c.kind === ChatKind.DIRECT ? c.peerCyphrId : undefined,
          members: c.memberCount,
          request: c.request,
          unread: c.unreadCount,
          lastSeq: c.lastSeq.toString(),
          lastActivityAt: c.lastActivityAt && timestampDate(c.lastActivityAt).toISOString(),
        }));
        out.data(rows, (v) =>
          v.length === 0
            ? ["No chats yet: `cyphr send <cyphr_id> <text>` starts one."]
            : v.map(
                (c) =>
                  `${c.chatId}  ${c.title}${c.request ? "  (request: cyphr accept / decline)" : ""}${c.unread > 0 ? `  ${c.unread} unread` : ""}  ${formatDate(c.lastActivityAt ? new Date(c.lastActivityAt) : undefined)}`,
              ),
        );
      }),
    );

  program
    .command("history")
    .description("show a chat's messages, decrypted on this device")
    .argument("<chat|user>", "a chat id, or a user's cyphr id for your direct chat with them")
    .option("--after <seq>", "only messages after this seq (page on with the last one shown)", "0")
    .option("--limit <n>", `at most this many messages (1 to ${HISTORY_PAGE_LIMIT})`, String(HISTORY_PAGE_LIMIT))
    .action(
      action(async ({ globals, out }, target: string, options: { after: string; limit: string }) => {
        const afterSeq = parseNumber("--after", options.after, 0, Number.MAX_SAFE_INTEGER);
        const limit = parseNumber("--limit", options.limit, 1, HISTORY_PAGE_LIMIT);
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: false });
        await ensureJoined(session, chat.chatId);
        const messages = await session.mls.history(chat.chatId, { afterSeq: BigInt(afterSeq), limit });
        const last = messages.at(-1);
        if (last !== undefined) await call(async () => session.messaging.markRead({ chatId: chat.chatId, upToSeq: last.seq }, await session.auth()));
        // Identity changes this profile's stream saw (PeerIdentities), within the page shown (a full page: before its last message).
        const pageEnd = messages.length === limit ? last?.seq : undefined;
        const notices = (await new PeerIdentities(session.profile.store).noticesIn(chat.chatId)).filter(
          (n) => n.afterSeq >= BigInt(afterSeq) && (pageEnd === undefined || n.afterSeq < pageEnd),
        );
        const safetyNumberChanges = notices.map((n) => ({
          cyphrId: n.cyphrId,
          safetyNumber: n.safetyNumber,
          afterSeq: n.afterSeq.toString(),
          at: n.at.toISOString(),
        }));
        out.data({ chatId: chat.chatId, title: chat.title, messages: messages.map(messageJson), safetyNumberChanges }, (v) =>
          v.messages.length === 0 && notices.length === 0 ? [`No messages in ${v.title}.`] : historyLines(messages, notices),
        );
      }),
    );

  program
    .command("send")
    .description("encrypt and send one message (to a user: your direct chat with them, started if needed)")
    .argument("<user|chat>", "a user's cyphr id or a chat id")
    .argument("<text>", 'the message; "-" reads it from standard input')
    .action(
      action(async ({ globals, out }, target: string, text: string) => {
        const body = text === "-" ? await readStdin() : text;
        if (body === "") throw new CliError("The message is empty: nothing sent.", EXIT.usage);
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: true });
        await ensureJoined(session, chat.chatId);
        const sent = await session.mls.send(chat.chatId, body);
        out.data({ chatId: chat.chatId, messageId: sent.messageId, seq: sent.seq.toString() }, (v) => `Sent to ${chat.title} (seq ${v.seq}).`);
      }),
    );
}

function parseNumber(name: string, text: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new CliError(`Invalid ${name} "${text}": give a whole number from ${min} to ${max}.`, EXIT.usage);
  }
  return Number(text);
}

/** The message from stdin, at most MAX_STDIN_TEXT bytes, without its final newline. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_TEXT) throw new CliError(`The message on standard input is over ${MAX_STDIN_TEXT} bytes: send a shorter one.`, EXIT.usage);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}
