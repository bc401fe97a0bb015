import type { Caller } from "../identity/tokens.js";
import type { AccountContext } from "./context.js";
import { exportAccountSections, exportOwnMessages } from "./export-repo.js";

export const EXPORT_CHUNK_BYTES = 65_536;
const MESSAGE_PAGE = 500;
export const EXPORT_FORMAT = "cyphr-account-export-v1";

/**
 * The caller's data as one JSON document, in UTF-8 chunks of at most EXPORT_CHUNK_BYTES:
 * the account sections, then the caller's own messages page by page, so neither the
 * server nor the stream holds more than a page at a time.
 */
export async function* exportAccountData(ctx: AccountContext, caller: Caller, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const chunks = new Chunker();
  const sections = await exportAccountSections(ctx.pool, caller.userId);
  const head = JSON.stringify({ format: EXPORT_FORMAT, exported_at: new Date().toISOString(), ...sections });
  yield* chunks.push(`${head.slice(0, -1)},"messages":[`);
  let after: { chatId: string; seq: number } | null = null;
  let first = true;
  for (;;) {
    signal.throwIfAborted();
    const page = await exportOwnMessages(ctx.pool, caller.userId, after, MESSAGE_PAGE);
    for (const message of page) {
      yield* chunks.push(`${first ? "" : ","}${JSON.stringify(message.row)}`);
      first = false;
    }
    if (page.length < MESSAGE_PAGE) break;
    const last = page[page.length - 1]!;
    after = { chatId: last.chatId, seq: last.seq };
  }
  yield* chunks.push("]}");
  yield* chunks.flush();
}

/** Collects text and hands out full chunks of bytes (a chunk may end inside a UTF-8 sequence; the concatenation is the document). */
export class Chunker {
  private pending: Buffer[] = [];
  private size = 0;

  *push(text: string): Generator<Uint8Array> {
    const bytes = Buffer.from(text, "utf8");
    this.pending.push(bytes);
    this.size += bytes.length;
    while (this.size >= EXPORT_CHUNK_BYTES) {
      const all = Buffer.concat(this.pending);
      yield all.subarray(0, EXPORT_CHUNK_BYTES);
      this.pending = [all.subarray(EXPORT_CHUNK_BYTES)];
      this.size = all.length - EXPORT_CHUNK_BYTES;
    }
  }

  *flush(): Generator<Uint8Array> {
    if (this.size > 0) yield Buffer.concat(this.pending);
    this.pending = [];
    this.size = 0;
  }
}
