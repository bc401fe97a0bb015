import type { Message } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";

/** What a frame costs beyond its variable-length bytes: ids, timestamps, framing. */
const FRAME_OVERHEAD_BYTES = 256;

/**
 * A cheap upper estimate of a frame's encoded size, for byte budgets: the variable-length
 * fields (encrypted payloads, call signal payloads) counted exactly,
 * everything else as a fixed overhead. Encoding the frame to measure it would double the
 * serialisation cost of every delivery.
 */
export function estimatedFrameBytes(frame: ServerFrame): number {
  const event = frame.event;
  switch (event.case) {
    case "messageNew":
    case "messageEdited":
    case "messageDeleted":
      return FRAME_OVERHEAD_BYTES + messageBytes(event.value);
    case "callSignal":
      return FRAME_OVERHEAD_BYTES + event.value.payload.length + event.value.reason.length;
    case "frameError":
      return FRAME_OVERHEAD_BYTES + (event.value.error?.message.length ?? 0);
    default:
      return FRAME_OVERHEAD_BYTES;
  }
}

function messageBytes(message: Message): number {
  const p = message.payload;
  const payload = p ? p.kemCiphertext.length + p.ciphertext.length + p.nonce.length + p.tag.length + p.header.length : 0;
  return payload;
}
