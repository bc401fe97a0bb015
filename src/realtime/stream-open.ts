import type { ClientFrame, ConnectRequest, Hello } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { DeadlineExceededError, InvalidArgumentError, ResourceExhaustedError } from "../shared/errors.js";
import { requireInt8 } from "../shared/uint64.js";
import { ClientFrames } from "./client-frames.js";
import type { RealtimeContext } from "./context.js";
import { handleFrame } from "./frame-handler.js";
import { Heartbeats } from "./heartbeats.js";
import { EventStream, type StreamDeps, type StreamSettings, type StreamTransport } from "./stream.js";

/**
 * How an event stream is opened and fed, whichever engine carries it: connect-es's
 * handlers (src/realtime/service.ts) or the HTTP/2 fast path (src/realtime/h2/).
 */

/** Longest a failed stream waits for its client to take the last frames before the transport is reset. */
const MAX_DRAIN_GRACE_MS = 5_000;

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
  const shared = sharedOf(rt);
  const stream = new EventStream(shared.deps, transport, caller, kind === "connect" ? shared.connect : shared.subscribe);
  stream.open(resume);
  return stream;
}

/** The dependencies and settings every stream of one realtime context shares: made once, not per stream. */
const sharedByContext = new WeakMap<RealtimeContext, { deps: StreamDeps; connect: StreamSettings; subscribe: StreamSettings }>();

function sharedOf(rt: RealtimeContext): { deps: StreamDeps; connect: StreamSettings; subscribe: StreamSettings } {
  let found = sharedByContext.get(rt);
  if (!found) {
    const settings = {
      bufferFrames: rt.streamBufferFrames,
      bufferBytes: rt.streamBufferBytes,
      drainGraceMs: Math.min(rt.heartbeatIntervalMs, MAX_DRAIN_GRACE_MS),
    };
    found = {
      deps: {
        pool: rt.pool,
        hub: rt.hub,
        log: rt.log,
        onOpen: (u) => rt.presence.opened(u),
        onClose: (u) => rt.presence.closed(u),
        snapshot: (u) => rt.presence.snapshot(u),
        replaySlots: rt.replaySlots,
        replayStarts: rt.replayStarts,
        flushAck: (sessionId) => rt.acks.flushSession(sessionId),
        heartbeats: new Heartbeats(rt.heartbeatIntervalMs),
      },
      connect: { ...settings, clientIdleTimeoutMs: helloTimeoutMs(rt) },
      subscribe: { ...settings, clientIdleTimeoutMs: undefined },
    };
    sharedByContext.set(rt, found);
  }
  return found;
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

/** The handler of a caller's client frames. */
export const clientFrameHandler = (rt: RealtimeContext, caller: Caller) => (frame: ClientFrame, queued: () => void) => handleFrame(rt, caller, frame, queued);

/**
 * Reads the client's frames from an async iterator (connect-es's request stream) into
 * ClientFrames, which handles them; reading waits while ClientFrames is full. The HTTP/2
 * fast path hands its frames to ClientFrames directly instead (src/realtime/h2/stream-call.ts).
 */
export async function readClientFrames(rt: RealtimeContext, caller: Caller, frames: AsyncIterator<ConnectRequest>, stream: EventStream): Promise<void> {
  let wake: (() => void) | undefined;
  const reader = new ClientFrames(clientFrameHandler(rt, caller), stream, { pause: () => undefined, resume: () => wake?.() }, rt.log);
  try {
    for (;;) {
      const next = await frames.next();
      if (next.done) break;
      reader.push(next.value);
      while (reader.full) await new Promise<void>((resolve) => (wake = resolve));
    }
    reader.end();
  } catch {
    // The client went away or the stream was aborted: the stream ends through its signal.
  }
}
