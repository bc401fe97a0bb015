/** How messages read for people and for --json, in history, send and the chat screen. */
import { Attachments, type HistoryMessage } from "../sdk/index.js";
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
  const body = m.text !== undefined ? m.text : file ? `(file ${file.name || "without a name"}, ${formatBytes(file.plaintextSize)}: \`cyphr get\` saves it)` : `(${m.bytes.length} bytes)`;
  return m.edited ? `${body} (edited)` : body;
}

/** One line of history: "[seq] sender: text". */
export function messageLine(m: HistoryMessage): string {
  return `[${m.seq}] ${m.senderCyphrId}: ${sanitize(messageBody(m))}`;
}

/** Control characters (ANSI escapes from a peer, newlines) cannot reach the terminal. */
export function sanitize(text: string): string {
  return text.replace(/\r?\n/g, " ⏎ ").replace(/[\u0000-\u001f\u007f-\u009f]/g, "�");
}
