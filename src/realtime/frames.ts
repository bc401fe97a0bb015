import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type ServerFrame, ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";

/** Frames that are never stored (the frames of durable events are built in src/delivery/durable-frames.ts). */

export function ephemeralFrame(body: MessageInitShape<typeof ServerFrameSchema>["event"]): ServerFrame {
  return create(ServerFrameSchema, { time: timestampFromMs(Date.now()), event: body });
}

export const heartbeatFrame = (): ServerFrame => ephemeralFrame({ case: "heartbeat", value: {} });
