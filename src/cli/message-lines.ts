/** How messages read for people and for --json, in history, send and the chat screen. */
import { Attachments, type HistoryMessage, type IdentityNotice } from "../sdk/index.js";
import { formatBytes } from "./progress-bar.js";

const REASONS: Record<string, string> = {
  before_join: "sent before this device joined",
  sent_by_this_device: "sent by this device, not kept",
  undecryptable: "could not be decrypted",
  deleted: "deleted",
};

/** The JSON form: one object per message. */
export interface MessageJson {
  seq: string;
  messageId: string;
  sender: string;
  own: boolean;
  readable: boolean;
  text?: string;
  bytes?: string;
  edited?: boolean;
  reason?: string;
}

export function messageJson(m: HistoryMessage): MessageJson {
  const common = { seq: m.seq.toString(), messageId: m.messageId, sender: m.senderCyphrId, own: m.own };
  if (!m.readable) return { ...common, readable: false, reason: m.reason };
  return {
    ...common,
    readable: true,
    edited: m.edited,
    ...(m.text !== undefined ? { text: m.text } : { bytes: Buffer.from(m.bytes).toString("base64") }),
  };
}

/** What the message says: its text, a note on bytes, or why it cannot be read. */
export function messageBody(m: HistoryMessage): string {
  if (!m.readable) return `(${REASONS[m.reason] ?? m.reason})`;
  const file = m.text === undefined ? Attachments.referenceIn(m.bytes) : undefined;
  const body =
    m.text !== undefined
      ? m.text
      : file
        ? `(file ${file.name || "without a name"}, ${formatBytes(file.plaintextSize)}: \`cyphr get\` saves it)`
        : `(${m.bytes.length} bytes)`;
  return m.edited ? `${body} (edited)` : body;
}

/** One line of history: "[seq] sender: text". */
export function messageLine(m: HistoryMessage): string {
  return `[${m.seq}] ${m.senderCyphrId}: ${sanitize(messageBody(m))}`;
}

/** A peer's identity change as history and the chat screen say it. */
export function safetyNumberText(n: Pick<IdentityNotice, "cyphrId" | "safetyNumber">): string {
  return sanitize(`${n.cyphrId}'s safety number changed (they recovered their account); new: ${n.safetyNumber}`);
}

/** History's lines: the messages, each identity change placed after the last message before it. */
export function historyLines(messages: HistoryMessage[], notices: IdentityNotice[]): string[] {
  const lines: string[] = [];
  let next = 0;
  const noticesUpTo = (seq: bigint | undefined) => {
    while (next < notices.length && (seq === undefined || notices[next]!.afterSeq < seq)) lines.push(`-- ${safetyNumberText(notices[next++]!)}`);
  };
  for (const m of messages) {
    noticesUpTo(m.seq);
    lines.push(messageLine(m));
  }
  noticesUpTo(undefined);
  return lines;
}

/** Control characters (ANSI escapes from a peer, newlines) cannot reach the terminal. */
export function sanitize(text: string): string {
  return text.replace(/\r?\n/g, " ⏎ ").replace(/[\u0000-\u001f\u007f-\u009f]/g, "�");
}
