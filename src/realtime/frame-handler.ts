import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ClientFrame, ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { markReceipt } from "../messaging/receipts.js";
import { sendMessage } from "../messaging/send.js";
import { sendInputOf, sendResultMessage } from "../messaging/wire.js";
import { toFrameStatus } from "../rpc/errors.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { requireInt8 } from "../shared/uint64.js";
import type { RealtimeContext } from "./context.js";

const MAX_REQUEST_ID = 64;

/**
 * Handles one frame of a Connect stream (or from Publish) through the same use cases as the
 * unary RPCs. Sends and receipts always produce a result frame (success or the status the
 * unary call would fail with); other frames throw on failure. Acks are coalesced. A send
 * calls `queued` once its message is in the group-commit queue (see sendMessage).
 */
export async function handleFrame(rt: RealtimeContext, caller: Caller, frame: ClientFrame, queued?: () => void): Promise<ServerFrame | undefined> {
  if (frame.requestId.length > MAX_REQUEST_ID) {
    throw new InvalidArgumentError(`request_id must be at most ${MAX_REQUEST_ID} characters`);
  }
  const body = frame.frame;
  switch (body.case) {
    case "ack":
      rt.acks.ack(caller.userId, caller.sessionId, requireInt8("ack.cursor", body.value.cursor));
      return undefined;
    case "heartbeat":
      return undefined;
    case "typing":
      await rt.spendFrameLimit?.("typing", caller.userId);
      await rt.typing.typing(caller, body.value.chatId, body.value.typing);
      return undefined;
    case "callSignal":
      await rt.spendFrameLimit?.("call_signals", caller.userId);
      await rt.calls.signal(caller, body.value);
      return undefined;
    case "sendMessage": {
      const req = body.value;
      try {
        const result = await sendMessage(rt.messaging, caller, sendInputOf(req), queued);
        return resultFrame({
          case: "sendResult",
          value: { requestId: frame.requestId, clientMessageId: req.clientMessageId, response: sendResultMessage(result) },
        });
      } catch (error) {
        const status = toFrameStatus(error, rt.log, "cyphr.realtime.v1.RealtimeService/Connect:send_message");
        return resultFrame({ case: "sendResult", value: { requestId: frame.requestId, clientMessageId: req.clientMessageId, error: status } });
      }
    }
    case "markDelivered":
    case "markRead": {
      try {
        const positions = await markReceipt(rt.messaging, caller, {
          chatId: body.value.chatId,
          upToSeq: body.value.upToSeq,
          read: body.case === "markRead",
        });
        return resultFrame({
          case: "receiptResult",
          value: { requestId: frame.requestId, deliveredSeq: BigInt(positions.deliveredSeq), readSeq: BigInt(positions.readSeq) },
        });
      } catch (error) {
        const status = toFrameStatus(error, rt.log, `cyphr.realtime.v1.RealtimeService/Connect:${body.case}`);
        return resultFrame({ case: "receiptResult", value: { requestId: frame.requestId, error: status } });
      }
    }
    case "hello":
      throw new InvalidArgumentError("hello is only allowed as the first frame of a Connect stream");
    default:
      throw new InvalidArgumentError("frame is empty: set one of ack, heartbeat, typing, call_signal, send_message, mark_delivered, mark_read");
  }
}

function resultFrame(event: MessageInitShape<typeof ServerFrameSchema>["event"]): ServerFrame {
  return create(ServerFrameSchema, { event });
}
