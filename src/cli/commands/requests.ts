/** accept and decline: answering a chat someone started with you (a message request). */
import type { Command } from "commander";
import { call } from "../../sdk/errors.js";
import { resolveChat } from "../chat-directory.js";
import { action } from "../command.js";
import { openSession } from "../session.js";

export function requestCommands(program: Command): void {
  program
    .command("accept")
    .description("accept a chat request: the other side then gets your receipts, typing and presence")
    .argument("<chat|user>", "a chat id, or the cyphr id of the user who wrote to you")
    .action(
      action(async ({ globals, out }, target: string) => {
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: false });
        await call(async () => session.privacy.acceptChat({ chatId: chat.chatId }, await session.auth()));
        out.data({ chatId: chat.chatId, accepted: true }, () => `Accepted the chat with ${chat.title}.`);
      }),
    );

  program
    .command("decline")
    .description("decline a chat request: you leave the chat, and the other side is not told")
    .argument("<chat|user>", "a chat id, or the cyphr id of the user who wrote to you")
    .action(
      action(async ({ globals, out }, target: string) => {
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: false });
        await call(async () => session.privacy.declineChat({ chatId: chat.chatId }, await session.auth()));
        out.data({ chatId: chat.chatId, declined: true }, () => `Declined the chat with ${chat.title}.`);
      }),
    );
}
