/**
 * One stream to the server, as Live opens it on every (re)connect: a Connect bidi stream (hello,
 * then acks, heartbeats and typing on the same stream) or a Subscribe stream with Publish for what
 * the client says. Frames come out of `frames`; while Live waits for the next one, a watchdog ends
 * the stream when the server has been silent for deadAfterMs (it sends a heartbeat every 25 s).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { ClientFrameSchema, RealtimeService, ServerFrame } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { CyphrError, toCyphrError } from "../errors.js";
import type { StreamMode } from "./options.js";

export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;

/** Client frames queued on a bidi stream at most (acks are coalesced, so this bounds typing bursts). */
export const OUTBOX_LIMIT = 256;

export interface ConnectionSpec {
  client: Client<typeof RealtimeService>;
  mode: StreamMode;
  token: string;
  resumeCursor: bigint | undefined;
  heartbeatIntervalMs: number;
  deadAfterMs: number;
}

export interface Connection {
  frames: AsyncIterable<ServerFrame>;
  /** Sends one client frame: queued on the bidi stream, or one Publish call. */
  send(frame: ClientFrameInit): Promise<void>;
  /** Ends the stream (the frames iteration then ends with canceled). */
  close(): void;
}

export function openConnection(spec: ConnectionSpec): Connection {
  const abort = new AbortController();
  const headers = { authorization: `Bearer ${spec.token}` };
  let dead = false;
  let outbox: Outbox | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;

  async function* watched(source: AsyncIterable<{ frame?: ServerFrame }>): AsyncGenerator<ServerFrame> {
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const watchdog = setTimeout(() => {
          dead = true;
          abort.abort();
        }, spec.deadAfterMs);
        let next: IteratorResult<{ frame?: ServerFrame }>;
        try {
          next = await it.next();
        } catch (err) {
          if (dead) throw new CyphrError("unavailable", `No frame from the server for ${spec.deadAfterMs} ms: the connection is dead; reconnecting.`);
          throw toCyphrError(err);
        } finally {
          clearTimeout(watchdog);
        }
        if (next.done) return;
        if (next.value.frame) yield next.value.frame;
      }
    } finally {
      abort.abort();
      clearInterval(heartbeat);
      outbox?.end();
    }
  }

  if (spec.mode === "bidi") {
    outbox = new Outbox(OUTBOX_LIMIT);
    outbox.push({ frame: { case: "hello", value: spec.resumeCursor === undefined ? {} : { resumeCursor: spec.resumeCursor } } });
    const box = outbox;
    heartbeat = setInterval(() => box.push({ frame: { case: "heartbeat", value: {} } }), spec.heartbeatIntervalMs);
    const responses = spec.client.connect(
      (async function* () {
        for await (const frame of box) yield { frame };
      })(),
      { headers, signal: abort.signal },
    );
    return {
      frames: watched(responses),
      send: async (frame) => {
        if (!box.push(frame)) throw new CyphrError("resource_exhausted", `More than ${OUTBOX_LIMIT} frames wait to be sent on the stream: wait and try again.`);
      },
      close: () => abort.abort(),
    };
  }
  const responses = spec.client.subscribe(spec.resumeCursor === undefined ? {} : { resumeCursor: spec.resumeCursor }, { headers, signal: abort.signal });
  return {
    frames: watched(responses),
    send: async (frame) => {
      try {
        await spec.client.publish({ frame }, { headers });
      } catch (err) {
        throw toCyphrError(err);
      }
    },
    close: () => abort.abort(),
  };
}

/** The bidi stream's request side: a bounded queue read by connect-es. */
class Outbox implements AsyncIterable<ClientFrameInit> {
  private readonly items: ClientFrameInit[] = [];
  private wake?: () => void;
  private ended = false;

  constructor(private readonly limit: number) {}

  push(frame: ClientFrameInit): boolean {
    if (this.ended || this.items.length >= this.limit) return false;
    this.items.push(frame);
    this.wake?.();
    return true;
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ClientFrameInit> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
