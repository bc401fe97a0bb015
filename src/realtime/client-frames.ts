import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { type ClientFrame, type ConnectRequest, type ServerFrame, ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { toFrameStatus } from "../rpc/errors.js";
import type { EventStream } from "./stream.js";

/** Sends in flight per stream before the server stops reading the client's frames. */
export const MAX_IN_FLIGHT = 256;
/** Frames received but not started (behind a frame being handled) before reading pauses. */
const MAX_WAITING = 16;

/** How the reader holds the client back: its transport stops reading (flow control then holds the client) and starts again. */
export interface ReadControl {
  pause(): void;
  resume(): void;
}

/**
 * Handles one client frame: its answer frame, if it has one (src/realtime/frame-handler.ts).
 * A send calls `queued` once its message is in the group-commit queue, where a later send
 * to its chat is committed after it.
 */
export type FrameHandler = (frame: ClientFrame, queued: () => void) => Promise<ServerFrame | undefined>;

/** What the reader needs of the event stream. */
export type FrameTarget = Pick<EventStream, "touch" | "reply" | "fail" | "clientDone">;

/**
 * Handles a `Connect` stream's client frames as they are handed in (push: no loop or
 * promise waits while the client is silent). Sends run concurrently across chats but in
 * order within one destination, so a client's messages to one chat keep the order it sent
 * them in: a send starts once the one before it to its destination is queued for commit
 * (the queue keeps a chat's sends in order, src/messaging/send-queue.ts) or has ended, so a
 * client's sends in flight to one chat commit together. Any other frame is handled before
 * the frames after it start. Reading pauses
 * while MAX_IN_FLIGHT sends are pending or MAX_WAITING frames wait, and resumes when
 * both are below.
 */
export class ClientFrames {
  private readonly waiting: ClientFrame[] = [];
  /**
   * Per destination, when the last send to it is queued or ended (the next one starts then);
   * made at the first send (a Map costs ~0.2 KB, and most streams never send).
   */
  private chains: Map<string, Promise<void>> | undefined;
  private inFlight = 0;
  /** A frame other than a send is being handled: the frames after it wait. */
  private blocked = false;
  private paused = false;
  private ended = false;
  private finished = false;
  private failure: Error | undefined;

  constructor(
    private readonly handle: FrameHandler,
    private readonly stream: FrameTarget,
    private readonly control: ReadControl,
    private readonly log: Logger,
  ) {}

  /** True while reading should stay paused. */
  get full(): boolean {
    return this.inFlight >= MAX_IN_FLIGHT || this.waiting.length >= MAX_WAITING;
  }

  /** One request of the client. */
  push(request: ConnectRequest): void {
    if (this.ended) return;
    this.stream.touch();
    if (request.frame) this.waiting.push(request.frame);
    this.pump();
  }

  /** The client closed its side (or it failed: `error`, which ends the stream once what was received is handled). */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.finishIfDone();
  }

  private pump(): void {
    while (!this.blocked && this.inFlight < MAX_IN_FLIGHT) {
      const frame = this.waiting.shift();
      if (!frame) break;
      if (frame.frame.case !== "sendMessage") {
        this.blocked = true;
        void this.run(frame).finally(() => {
          this.blocked = false;
          this.pump();
        });
        break;
      }
      const dest = frame.frame.value.destination;
      const key = `${dest.case}:${dest.value ?? ""}`;
      this.inFlight++;
      const chains = (this.chains ??= new Map());
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const done = (chains.get(key) ?? Promise.resolve()).then(() => this.run(frame, release));
      chains.set(key, released);
      void done.finally(() => {
        release();
        this.inFlight--;
        if (chains.get(key) === released) chains.delete(key);
        this.pump();
      });
    }
    this.flow();
    this.finishIfDone();
  }

  private flow(): void {
    if (this.full === this.paused || this.ended) return;
    this.paused = this.full;
    if (this.paused) this.control.pause();
    else this.control.resume();
  }

  private finishIfDone(): void {
    if (!this.ended || this.finished || this.blocked || this.inFlight > 0) return;
    if (this.waiting.length > 0) return this.pump();
    this.finished = true;
    if (this.failure) this.stream.fail(this.failure);
    else this.stream.clientDone();
  }

  private async run(frame: ClientFrame, queued: () => void = () => {}): Promise<void> {
    try {
      const result = await this.handle(frame, queued);
      if (result) this.stream.reply(result);
    } catch (error) {
      const status = toFrameStatus(error, this.log, "cyphr.realtime.v1.RealtimeService/Connect");
      this.stream.reply(create(ServerFrameSchema, { event: { case: "frameError", value: { requestId: frame.requestId, error: status } } }));
    }
  }
}
