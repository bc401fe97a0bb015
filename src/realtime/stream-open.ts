import { create } from "@bufbuild/protobuf";
import { ServerFrameSchema, type ClientFrame, type ConnectRequest, type Hello } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { toFrameStatus } from "../rpc/errors.js";
import { DeadlineExceededError, InvalidArgumentError, ResourceExhaustedError } from "../shared/errors.js";
import { requireInt8 } from "../shared/uint64.js";
import type { RealtimeContext } from "./context.js";
import { handleFrame } from "./frame-handler.js";
import { EventStream } from "./stream.js";

/**
 * How an event stream is opened and fed, whichever engine carries it: connect-es's
 * handlers (src/realtime/service.ts) or the HTTP/2 fast path (src/realtime/h2/).
 */

/** Sends in flight per stream before the server stops reading the client's frames. */
const MAX_IN_FLIGHT = 256;
/** Longest a failed stream waits for its client to take the last frames before the transport is reset. */
const MAX_DRAIN_GRACE_MS = 5_000;

/** What the stream needs from the call that carries it. */
export interface StreamTransport {
  /** Aborts when the server shuts down or the call ends. */
  signal: AbortSignal;
  /** Cuts the call off at the transport (a client that stopped reading never sees the final status otherwise). */
  resetTransport?(reason: Error): void;
  /** Bytes written to the transport that the client has not taken yet. */
  transportBacklog?(): number;
}

/** A bidi `Connect` stream expects frames (at least heartbeats) from its client; a `Subscribe` stream expects none. */
export type StreamKind = "connect" | "subscribe";

/**
 * Opens a user's event stream: validates the resume cursor, enforces the per-user stream
 * cap, registers for live events and starts the replay.
 */
export function openStream(rt: RealtimeContext, caller: Caller, resumeCursor: bigint | undefined, transport: StreamTransport, kind: StreamKind): EventStream {
  const resume = resumeCursor === undefined ? undefined : requireInt8("resume_cursor", resumeCursor);
  if (rt.hub.count(caller.userId) >= rt.streamsPerUser) {
    throw new ResourceExhaustedError(
      `at most ${rt.streamsPerUser} live streams per user on this server; close one (or let a dead one time out) before opening another`,
    );
  }
  const stream = new EventStream(
    {
      pool: rt.pool,
      hub: rt.hub,
      log: rt.log,
      onOpen: (u) => rt.presence.opened(u),
      onClose: (u) => rt.presence.closed(u),
      snapshot: (u) => rt.presence.snapshot(u),
      resetTransport: transport.resetTransport,
      transportBacklog: transport.transportBacklog,
      replaySlots: rt.replaySlots,
      flushAck: (sessionId) => rt.acks.flushSession(sessionId),
    },
    caller,
    {
      bufferFrames: rt.streamBufferFrames,
      bufferBytes: rt.streamBufferBytes,
      heartbeatIntervalMs: rt.heartbeatIntervalMs,
      clientIdleTimeoutMs: kind === "connect" ? helloTimeoutMs(rt) : undefined,
      drainGraceMs: Math.min(rt.heartbeatIntervalMs, MAX_DRAIN_GRACE_MS),
    },
    transport.signal,
  );
  stream.open(resume);
  return stream;
}

/** How long a Connect client may stay silent, before its hello and after: three heartbeat intervals. */
export const helloTimeoutMs = (rt: RealtimeContext) => rt.heartbeatIntervalMs * 3;

/** The hello a Connect stream must start with. */
export function requireHello(first: IteratorResult<ConnectRequest>): Hello {
  const hello = first.done ? undefined : first.value.frame?.frame;
  if (hello?.case !== "hello") throw new InvalidArgumentError("the first frame of a Connect stream must be hello");
  return hello.value;
}

/** `next`, unless the client stays silent as long as an open stream may (then DEADLINE_EXCEEDED). */
export async function withinHelloTimeout<T>(next: Promise<T>, idleMs: number, what = "hello"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(`no ${what} from the client within ${idleMs} ms; the stream was ended`)), idleMs);
  });
  try {
    return await Promise.race([next, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads the client's frames while the stream runs. Sends run concurrently across chats
 * but in order within one destination, so a client's messages to one chat keep the order
 * it sent them in; at most MAX_IN_FLIGHT are pending before reading pauses.
 */
export async function readClientFrames(
  rt: RealtimeContext,
  caller: Caller,
  frames: AsyncIterator<ConnectRequest>,
  stream: EventStream,
): Promise<void> {
  const chains = new Map<string, Promise<void>>();
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const run = async (frame: ClientFrame) => {
    try {
      const result = await handleFrame(rt, caller, frame);
      if (result) stream.reply(result);
    } catch (error) {
      const status = toFrameStatus(error, rt.log, "cyphr.realtime.v1.RealtimeService/Connect");
      stream.reply(create(ServerFrameSchema, { event: { case: "frameError", value: { requestId: frame.requestId, error: status } } }));
    }
  };
  try {
    for (;;) {
      const next = await frames.next();
      if (next.done) break;
      stream.touch();
      const frame = next.value.frame;
      if (!frame) continue;
      if (frame.frame.case !== "sendMessage") {
        await run(frame);
        continue;
      }
      const dest = frame.frame.value.destination;
      const key = `${dest.case}:${dest.value ?? ""}`;
      inFlight++;
      const chained = (chains.get(key) ?? Promise.resolve()).then(() => run(frame));
      chains.set(key, chained);
      void chained.finally(() => {
        inFlight--;
        if (chains.get(key) === chained) chains.delete(key);
        drained?.();
      });
      while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (drained = resolve));
    }
    await Promise.all(chains.values());
    stream.clientDone();
  } catch {
    // The client went away or the stream was aborted: the stream ends through its signal.
  }
}
