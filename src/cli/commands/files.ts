/** send-file and get: encrypted attachments through a chat, with a progress bar (docs/attachments.md). */
import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { saveToFile, sendFileAt } from "../../sdk/attachments/node.js";
import { Attachments } from "../../sdk/index.js";
import { ensureJoined, resolveChat } from "../chat-directory.js";
import { action } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { formatBytes, ProgressBar } from "../progress-bar.js";
import { openSession, type Session } from "../session.js";

export function fileCommands(program: Command): void {
  program
    .command("send-file")
    .description("encrypt a file, upload it and send it into a chat (to a user: your direct chat with them)")
    .argument("<user|chat>", "a user's cyphr id or a chat id")
    .argument("<path>", "the file to send")
    .option("--expires <seconds>", "delete it from the server after this many seconds (default: the server's lifetime, 30 days)")
    .action(
      action(async ({ globals, out }, target: string, filePath: string, options: { expires?: string }) => {
        const expiresInSeconds = options.expires === undefined ? 0 : wholeNumber("--expires", options.expires);
        const stat = await fs.stat(filePath).catch(() => undefined);
        if (!stat?.isFile()) throw new CliError(`No file at ${filePath}.`, EXIT.usage);
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: true });
        await ensureJoined(session, chat.chatId);
        const bar = globals.json ? undefined : new ProgressBar(`sending ${path.basename(filePath)}`);
        const sent = await sendFileAt(attachmentsOf(session), chat.chatId, filePath, { expiresInSeconds, onProgress: (p) => bar?.update(p.bytes, p.total) });
        out.data(
          {
            chatId: chat.chatId,
            messageId: sent.messageId,
            seq: sent.seq.toString(),
            attachmentId: sent.reference.attachmentId,
            name: sent.reference.name,
            size: sent.reference.plaintextSize,
          },
          (v) => `Sent ${v.name} (${formatBytes(v.size)}) to ${chat.title} (seq ${v.seq}).`,
        );
      }),
    );

  program
    .command("get")
    .description("download and decrypt the file a message of a chat carries")
    .argument("<chat|user>", "a chat id, or a user's cyphr id for your direct chat with them")
    .argument("<seq>", "the message's seq (as `cyphr history` shows it)")
    .option("-o, --output <path>", "where to save it (default: the sender's file name, in this folder)")
    .option("--force", "replace a file that is already there")
    .action(
      action(async ({ globals, out }, target: string, seqText: string, options: { output?: string; force?: boolean }) => {
        const seq = wholeNumber("<seq>", seqText);
        const session = await openSession(globals.profile);
        const chat = await resolveChat(session, target, { create: false });
        await ensureJoined(session, chat.chatId);
        const [message] = await session.mls.history(chat.chatId, { afterSeq: BigInt(seq - 1), limit: 1 });
        if (message === undefined || message.seq !== BigInt(seq)) throw new CliError(`No message ${seq} in ${chat.title}.`);
        const ref = message.readable ? Attachments.referenceIn(message.bytes) : undefined;
        if (!ref) throw new CliError(`Message ${seq} in ${chat.title} carries no file this device can read.`);
        const destination = options.output ?? safeName(ref.name);
        if (!options.force && (await fs.stat(destination).catch(() => undefined)))
          throw new CliError(`${destination} exists: pass --force to replace it, or -o to save elsewhere.`, EXIT.usage);
        const bar = globals.json ? undefined : new ProgressBar(`receiving ${ref.name || "file"}`);
        // Written beside the target and renamed at the end: a failed check leaves no half file under its name.
        const partial = `${destination}.part`;
        try {
          await saveToFile(attachmentsOf(session).download(ref, { onProgress: (p) => bar?.update(p.bytes, p.total) }), partial);
          await fs.rename(partial, destination);
        } catch (error) {
          await fs.rm(partial, { force: true });
          throw error;
        }
        out.data(
          { chatId: chat.chatId, seq: String(seq), path: path.resolve(destination), name: ref.name, size: ref.plaintextSize },
          (v) => `Saved ${v.name || "the file"} (${formatBytes(v.size)}) to ${v.path}.`,
        );
      }),
    );
}

function attachmentsOf(session: Session): Attachments {
  return new Attachments(session.transport, session.account, session.mls);
}

/** The sender's file name without any folder part (a name is theirs to choose, the folder is ours). */
function safeName(name: string): string {
  const base = path.basename(name.replace(/\\/g, "/"));
  return base === "" || base === "." || base === ".." ? "attachment" : base;
}

function wholeNumber(name: string, text: string): number {
  if (!/^\d{1,12}$/.test(text) || Number(text) < 1) throw new CliError(`Invalid ${name} "${text}": give a whole number from 1.`, EXIT.usage);
  return Number(text);
}
