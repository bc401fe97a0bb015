import http2 from "node:http2";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create, toBinary } from "@bufbuild/protobuf";
import { expect } from "vitest";
import { SubscribeRequestSchema } from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { type Participant, sendTo } from "./messaging.js";
import { enveloped } from "./raw-h2.js";
import { subscribe } from "./realtime.js";

/** A Subscribe call over raw gRPC whose client never grants flow-control window: nothing it is sent is ever taken. */
export interface StalledStream {
  /** Resolves with the RST_STREAM code when the server ends the call (-1: closed without a reset). */
  closed: Promise<number>;
  isClosed(): boolean;
  /** The client goes away (its connection is destroyed). */
  leave(): void;
}

export function stalledSubscribe(baseUrl: string, token: string, resumeCursor: bigint): StalledStream {
  // A zero initial window: the server may send headers, but not a byte of DATA.
  const session = http2.connect(baseUrl, { settings: { initialWindowSize: 0 } });
  session.on("error", () => undefined);
  const call = session.request({
    ":method": "POST",
    ":path": "/cyphr.realtime.v1.RealtimeService/Subscribe",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${token}`,
  });
  call.on("error", () => undefined); // the reset, also seen as rstCode
  call.end(enveloped(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { resumeCursor }))));
  let closed = false;
  const closedPromise = new Promise<number>((resolve) =>
    call.once("close", () => {
      closed = true;
      resolve(call.rstCode ?? -1);
    }),
  );
  return { closed: closedPromise, isClosed: () => closed, leave: () => session.destroy() };
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** V8 heap in use plus ArrayBuffer memory (where payload bytes live) after a full collection, in bytes. */
export async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Another client is served while greedy ones hold the server: `reader` subscribes and is
 * caught up, receives what `sender` sends it, and lists its chats within 5 s.
 */
export async function expectAnotherClientAnswered(baseUrl: string, sender: Participant, reader: Participant): Promise<void> {
  const stream = subscribe(baseUrl, reader.accessToken, { resumeCursor: 0 });
  await stream.caughtUp();
  await sendTo(sender, reader);
  await stream.take("messageNew");
  const { chats } = await reader.messaging.listChats({ limit: 10 }, { timeoutMs: 5000 });
  expect(chats).toHaveLength(1);
  stream.close();
}
