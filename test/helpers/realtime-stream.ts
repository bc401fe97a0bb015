import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ClientFrameSchema } from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { Inbox } from "./inbox.js";

export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;

export interface StreamIo {
  send(frame: ClientFrameInit): void;
  halfClose(): void;
  cancel(): void;
  pause?(): void;
  resume?(): void;
}

/** An open realtime stream: the frames it received (see Inbox) and its client side. */
export class RealtimeStream extends Inbox {
  constructor(
    readonly wire: string,
    private readonly io: StreamIo,
  ) {
    super();
    open.add(this);
    void this.ended.then(() => {
      open.delete(this);
      clearInterval(this.heartbeats);
    });
  }

  private heartbeats: NodeJS.Timeout | undefined;

  /** Sends a heartbeat every `ms` until the stream ends. */
  keepAlive(ms: number | undefined): this {
    if (ms !== undefined) this.heartbeats = setInterval(() => this.heartbeat(), ms);
    return this;
  }

  /** Sends one client frame (bidi streams only). */
  send(frame: ClientFrameInit): void {
    this.io.send(frame);
  }

  ack(cursor: number | bigint): void {
    this.send({ frame: { case: "ack", value: { cursor: BigInt(cursor) } } });
  }

  heartbeat(): void {
    this.send({ frame: { case: "heartbeat", value: {} } });
  }

  typing(chatId: string, typing: boolean): void {
    this.send({ frame: { case: "typing", value: { chatId, typing } } });
  }

  /** Closes the client's sending side; the server keeps streaming. */
  halfClose(): void {
    this.io.halfClose();
  }

  /** Cancels the call, as a client that goes away does. */
  close(): void {
    this.io.cancel();
  }

  /** Stops reading (grpc-js only): the transport stops granting HTTP/2 flow-control credit. */
  pause(): void {
    if (!this.io.pause) throw new Error(`${this.wire} cannot pause`);
    this.io.pause();
  }

  resume(): void {
    this.io.resume?.();
  }

  /** Waits for the end of the backlog replay and returns its cursor. */
  async caughtUp(timeoutMs = 10_000): Promise<number> {
    const { value } = await this.take("caughtUp", undefined, timeoutMs);
    return Number(value.cursor);
  }
}

const open = new Set<RealtimeStream>();

/** Cancels every stream still open (call in afterEach). */
export async function closeAllStreams(): Promise<void> {
  const streams = [...open];
  for (const stream of streams) stream.close();
  await Promise.all(streams.map((s) => s.ended));
}

export interface HelloOptions {
  /** Hello.resume_cursor; unset: the session's stored ack. */
  resumeCursor?: number | bigint;
  /** Send no hello (the first frame is then whatever the test sends). */
  noHello?: boolean;
  /** Send a heartbeat frame this often (bidi streams), as a live client does. */
  heartbeatEveryMs?: number;
}

export function helloFrame(options: HelloOptions): ClientFrameInit {
  const resumeCursor = options.resumeCursor === undefined ? undefined : BigInt(options.resumeCursor);
  return { frame: { case: "hello", value: { resumeCursor } } };
}
