import type http2 from "node:http2";
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { BUDGET_RETRY_AFTER_MS, budgetRefusalMessage } from "../../rpc/request-budget.js";
import { InvalidArgumentError, ResourceExhaustedError } from "../../shared/errors.js";
import type { BodyCharge, BudgetRefusal, RequestBudget } from "../../transport/request-budget.js";
import { type Envelope, EnvelopeReader, EnvelopeTooLargeError } from "./envelopes.js";

/** Decoded messages waiting for the handler before the request is paused (HTTP/2 flow control then holds the client). */
const HIGH_WATER = 16;

/** Where forwarded messages go (push mode). */
export interface MessageSink<T> {
  message(message: T): void;
  /** No more messages: the request ended (no error) or why reading stopped. */
  end(error: Error | undefined): void;
}

/**
 * The request messages of one HTTP/2 stream, read with back-pressure: pulled as an async
 * iterator (the stream is paused while HIGH_WATER messages wait), or, after forward(),
 * pushed to a sink as they are decoded (the sink paces the stream with pause()/resume()),
 * with nothing waiting while the client is silent. A message that does not decode, is
 * compressed, or exceeds the read limit ends reading with INVALID_ARGUMENT or
 * RESOURCE_EXHAUSTED. The bytes held (an unfinished message, messages waiting in pull mode)
 * are charged to the budget of buffered request bytes (src/transport/request-budget.ts) and
 * returned as messages are handed on and when reading ends; a chunk the budget refuses, or
 * the budget taking the held bytes back, ends reading with RESOURCE_EXHAUSTED.
 */
export class IncomingMessages<Desc extends DescMessage> implements AsyncIterator<MessageShape<Desc>> {
  private readonly queue: MessageShape<Desc>[] = [];
  /** Encoded size of each message in `queue`. */
  private readonly queuedSizes: number[] = [];
  private queuedBytes = 0;
  private readonly charge: BodyCharge;
  private readonly reader: EnvelopeReader;
  private ended = false;
  private failure: Error | undefined;
  private waiter: (() => void) | undefined;
  private sink: MessageSink<MessageShape<Desc>> | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly schema: Desc,
    readMaxBytes: number,
    budget: RequestBudget,
  ) {
    this.reader = new EnvelopeReader(readMaxBytes);
    this.charge = budget.open(stream.session ?? stream, (refusal) => this.fail(budgetError(refusal)));
    stream.on("data", (chunk: Buffer) => this.take(chunk));
    // Each comes once and close() runs once: `on` spares the wrappers `once` makes for each stream.
    stream.on("end", () => this.close());
    stream.on("close", () => this.close());
    // END_STREAM on the request's headers: there is no body to read; or the client already reset the stream.
    if (stream.endAfterHeaders || stream.readableEnded || stream.destroyed || stream.closed) this.close();
  }

  /** Why reading stopped early, if it did. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Push mode from now on: the messages waiting, then each one as it is decoded, go to `sink`. */
  forward(sink: MessageSink<MessageShape<Desc>>): void {
    this.sink = sink;
    for (const message of this.queue.splice(0)) sink.message(message);
    this.queuedSizes.length = 0;
    this.queuedBytes = 0;
    this.charge.settle(this.reader.buffered);
    if (this.ended) sink.end(this.failure);
    else if (this.stream.isPaused()) this.stream.resume();
  }

  /** Push mode: stop reading (HTTP/2 flow control then holds the client). */
  pause(): void {
    if (!this.ended) this.stream.pause();
  }

  resume(): void {
    if (!this.ended) this.stream.resume();
  }

  async next(): Promise<IteratorResult<MessageShape<Desc>>> {
    for (;;) {
      const message = this.queue.shift();
      if (message) {
        this.queuedBytes -= this.queuedSizes.shift()!;
        this.charge.settle(this.reader.buffered + this.queuedBytes);
        if (this.queue.length < HIGH_WATER / 2 && this.stream.isPaused()) this.stream.resume();
        return { done: false, value: message };
      }
      if (this.failure) throw this.failure;
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }

  private take(chunk: Buffer): void {
    if (this.ended) return;
    const refused = this.charge.take(chunk.length);
    if (refused) return this.fail(budgetError(refused));
    let envelopes: Envelope[];
    try {
      envelopes = this.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof EnvelopeTooLargeError)) throw error;
      return this.fail(new ResourceExhaustedError(`request message of ${error.declared} bytes exceeds the limit of ${error.limit} bytes`));
    }
    for (const { flags, data } of envelopes) {
      if (flags !== 0)
        return this.fail(new InvalidArgumentError(`request message has flags 0x${flags.toString(16)}; only uncompressed messages (flags 0) are accepted`));
      let message: MessageShape<Desc>;
      try {
        message = fromBinary(this.schema, data);
      } catch (error) {
        return this.fail(new InvalidArgumentError(`request message does not decode as ${this.schema.typeName}: ${(error as Error).message}`));
      }
      if (this.sink) this.sink.message(message);
      else {
        this.queue.push(message);
        this.queuedSizes.push(data.length);
        this.queuedBytes += data.length;
      }
      if (this.ended) return;
    }
    this.charge.settle(this.reader.buffered + this.queuedBytes);
    if (this.sink) return;
    if (this.queue.length >= HIGH_WATER) this.stream.pause();
    this.waiter?.();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.close();
  }

  private close(): void {
    if (this.ended) return;
    this.ended = true;
    this.charge.release();
    if (this.reader.buffered > 0 && !this.failure) this.failure = new InvalidArgumentError("request ended inside a message");
    this.stream.removeAllListeners("data");
    this.waiter?.();
    this.sink?.end(this.failure);
  }
}

function budgetError(refusal: BudgetRefusal): ResourceExhaustedError {
  return new ResourceExhaustedError(budgetRefusalMessage(refusal), BUDGET_RETRY_AFTER_MS);
}
