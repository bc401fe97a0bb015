import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { BudgetRefusal } from "../transport/request-budget.js";

/** When a refused request may be tried again: buffers free as other calls finish, within moments. */
export const BUDGET_RETRY_AFTER_MS = 1000;

/** The status of a request the budget of buffered request bytes refused (src/transport/request-budget.ts), with when to retry. */
export class BudgetRefusalError extends ConnectError {
  constructor(refusal: BudgetRefusal) {
    const metadata = new Headers({ "retry-after": String(BUDGET_RETRY_AFTER_MS / 1000), "retry-after-ms": String(BUDGET_RETRY_AFTER_MS) });
    super(budgetRefusalMessage(refusal), Code.ResourceExhausted, metadata);
  }
}

export function budgetRefusalError(refusal: BudgetRefusal): BudgetRefusalError {
  return new BudgetRefusalError(refusal);
}

export function budgetRefusalMessage({ limit, limitBytes, evicted }: BudgetRefusal): string {
  if (limit === "connection") {
    return `request bodies buffered on this connection reached its limit of ${limitBytes} bytes (REQUEST_BUFFER_BYTES_PER_CONNECTION); retry once its other requests finish`;
  }
  const full = `the server's request buffers are full (REQUEST_BUFFER_BYTES_TOTAL, ${limitBytes} bytes)`;
  return evicted ? `this request's body was dropped: ${full} and this connection held the most of them; retry shortly` : `${full}; retry shortly`;
}

/** The connection a request's bytes count against: its HTTP/2 session, or its HTTP/1.1 socket. */
export function connectionOf(req: http.IncomingMessage | http2.Http2ServerRequest): object {
  return "stream" in req ? (req.stream.session ?? req.stream) : req.socket;
}

/**
 * Tracks where a byte stream of envelopes (flags byte, 4-byte length, data) stands: how many
 * of the bytes seen belong to the envelope not yet complete. Only lengths are read; no byte
 * is kept.
 */
export class EnvelopeMeter {
  private readonly header = new Uint8Array(5);
  private headerSeen = 0;
  private dataLeft = 0;
  /** Bytes of the unfinished envelope (header included). */
  partial = 0;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.headerSeen < 5) {
        this.header[this.headerSeen++] = chunk[i++]!;
        this.partial++;
        if (this.headerSeen < 5) continue;
        this.dataLeft = new DataView(this.header.buffer).getUint32(1);
      } else {
        const n = Math.min(this.dataLeft, chunk.length - i);
        this.dataLeft -= n;
        this.partial += n;
        i += n;
      }
      if (this.headerSeen === 5 && this.dataLeft === 0) {
        this.headerSeen = 0;
        this.partial = 0;
      }
    }
  }
}
