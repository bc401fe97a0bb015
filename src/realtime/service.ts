import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { RealtimeService } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { requireCaller } from "../rpc/caller.js";
import { resetStreamKey, transportBacklogKey } from "../rpc/stream-reset.js";
import { InvalidArgumentError } from "../shared/errors.js";
import type { RealtimeContext } from "./context.js";
import { handleFrame } from "./frame-handler.js";
import { iceServersFor } from "./ice.js";
import type { StreamTransport } from "./stream.js";
import { helloTimeoutMs, openStream, readClientFrames, requireHello, withinHelloTimeout } from "./stream-open.js";

export function realtimeService(rt: RealtimeContext): ServiceImpl<typeof RealtimeService> {
  return {
    async *connect(requests, context) {
      const caller = requireCaller(context);
      const iterator = requests[Symbol.asyncIterator]();
      const hello = requireHello(await withinHelloTimeout(iterator.next(), helloTimeoutMs(rt)));
      const stream = openStream(rt, caller, hello.resumeCursor, transportOf(context), "connect");
      void readClientFrames(rt, caller, iterator, stream);
      for await (const frame of stream.frames()) yield { frame };
    },
    async *subscribe(req, context) {
      const stream = openStream(rt, requireCaller(context), req.resumeCursor, transportOf(context), "subscribe");
      for await (const frame of stream.frames()) yield { frame };
    },
    async publish(req, context) {
      const caller = requireCaller(context);
      if (!req.frame) throw new InvalidArgumentError("frame is required");
      const result = await handleFrame(rt, caller, req.frame);
      // An ack outside a stream is stored before the answer: the client's next stream may open on any instance.
      if (req.frame.frame.case === "ack") await rt.acks.flushSession(caller.sessionId);
      return { result };
    },
    getIceServers(_req, context) {
      const ice = iceServersFor(rt.ice, requireCaller(context).userId);
      return { iceServers: ice.servers, ttlSeconds: ice.ttlSeconds, expiresAt: timestampFromDate(ice.expiresAt) };
    },
  };
}

function transportOf(context: HandlerContext): StreamTransport {
  return { signal: context.signal, resetTransport: context.values.get(resetStreamKey), transportBacklog: context.values.get(transportBacklogKey) };
}
