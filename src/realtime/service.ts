import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  RealtimeService,
  ServerFrameSchema,
  type ClientFrame,
  type ConnectRequest,
} from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { requireCaller } from "../rpc/caller.js";
import { toFrameStatus } from "../rpc/errors.js";
import { resetStreamKey } from "../rpc/stream-reset.js";
import { DeadlineExceededError, InvalidArgumentError } from "../shared/errors.js";
import { requireInt8 } from "../shared/uint64.js";
import type { RealtimeContext } from "./context.js";
import { handleFrame } from "./frame-handler.js";
import { iceServersFor } from "./ice.js";
import { EventStream } from "./stream.js";

/** Sends in flight per stream before the server stops reading the client's frames. */
const MAX_IN_FLIGHT = 256;
/** Longest a failed stream waits for its client to take the last frames before the transport is reset. */
const MAX_DRAIN_GRACE_MS = 5_000;

export function realtimeService(rt: RealtimeContext): ServiceImpl<typeof RealtimeService> {
  return {
    async *connect(requests, context) {
      const caller = requireCaller(context);
      const iterator = requests[Symbol.asyncIterator]();
      const first = await withinIdleTimeout(iterator.next(), rt.heartbeatIntervalMs * 3);
      const hello = first.done ? undefined : first.value.frame?.frame;
      if (hello?.case !== "hello") throw new InvalidArgumentError("the first frame of a Connect stream must be hello");
      const stream = openStream(rt, caller, hello.value.resumeCursor, context, true);
      void readClientFrames(rt, caller, iterator, stream);
      for await (const frame of stream.frames()) yield { frame };
    },
    async *subscribe(req, context) {
      const stream = openStream(rt, requireCaller(context), req.resumeCursor, context, false);
      for await (const frame of stream.frames()) yield { frame };
    },
    async publish(req, context) {
      const caller = requireCaller(context);
      if (!req.frame) throw new InvalidArgumentError("frame is required");
      return { result: await handleFrame(rt, caller, req.frame) };
    },
    getIceServers(_req, context) {
      const ice = iceServersFor(rt.ice, requireCaller(context).userId);
      return { iceServers: ice.servers, ttlSeconds: ice.ttlSeconds, expiresAt: timestampFromDate(ice.expiresAt) };
    },
  };
}

function openStream(rt: RealtimeContext, caller: Caller, resumeCursor: bigint | undefined, context: HandlerContext, bidi: boolean): EventStream {
  const resume = resumeCursor === undefined ? undefined : requireInt8("resume_cursor", resumeCursor);
  const stream = new EventStream(
    {
      pool: rt.pool,
      hub: rt.hub,
      log: rt.log,
      onOpen: (u) => rt.presence.opened(u),
      onClose: (u) => rt.presence.closed(u),
      snapshot: (u) => rt.presence.snapshot(u),
      resetTransport: context.values.get(resetStreamKey),
    },
    caller,
    {
      bufferFrames: rt.streamBufferFrames,
      heartbeatIntervalMs: rt.heartbeatIntervalMs,
      clientIdleTimeoutMs: bidi ? rt.heartbeatIntervalMs * 3 : undefined,
      drainGraceMs: Math.min(rt.heartbeatIntervalMs, MAX_DRAIN_GRACE_MS),
    },
    context.signal,
  );
  stream.open(resume);
  return stream;
}

/** The hello, unless the client stays silent as long as an open stream may (then DEADLINE_EXCEEDED). */
async function withinIdleTimeout<T>(next: Promise<T>, idleMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(`no hello from the client within ${idleMs} ms; the stream was ended`)), idleMs);
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
async function readClientFrames(
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
