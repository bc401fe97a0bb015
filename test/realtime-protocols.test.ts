import { randomUUID } from "node:crypto";
import { type JsonValue, toJson } from "@bufbuild/protobuf";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { CallSignalType, ServerFrameSchema } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { participants, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, connectEsConnect, grpcJsConnect, type RealtimeStream, realtimeClient, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * One event stream, every way a client can open it: browsers use Subscribe over gRPC-Web
 * (HTTP/1.1 or HTTP/2) or Connect, native clients use bidi Connect over gRPC. All of them
 * must see the same frames.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server.close());

/** What a stream reported, as proto JSON, without per-stream details (heartbeats, when caught_up was sent). */
function events(stream: RealtimeStream): JsonValue[] {
  return stream.received
    .filter((f) => f.event.case !== "heartbeat")
    .map((f) => toJson(ServerFrameSchema, f.event.case === "caughtUp" ? { ...f, time: undefined } : f));
}

it("Subscribe over gRPC-Web (HTTP/1.1 and HTTP/2) and Connect, and bidi Connect over gRPC, deliver identical frames", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  const first = await sendTo(alice, bob);
  const streams = {
    "grpc-js Connect": grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 }),
    "Connect-ES Connect over gRPC": connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0, protocol: "grpc" }),
    "Connect-ES Connect over the Connect protocol": connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0, protocol: "connect" }),
    "Subscribe over gRPC-Web, HTTP/2": subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0, httpVersion: "2" }),
    "Subscribe over gRPC-Web, HTTP/1.1": subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0, httpVersion: "1.1" }),
    "Subscribe over Connect, HTTP/1.1": subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0, protocol: "connect", httpVersion: "1.1" }),
  };
  for (const stream of Object.values(streams)) expect(await stream.caughtUp()).toBe(1);

  const chatId = first.chatId;
  const publish = realtimeClient(server.baseUrl, alice.accessToken);
  await sendInChat(alice, chatId, randomPayload(3000));
  await alice.messaging.editMessage({ messageId: first.messageId, payload: randomPayload(10) });
  await publish.publish({ frame: { frame: { case: "typing", value: { chatId, typing: true } } } });
  await alice.messaging.markRead({ chatId, upToSeq: 2n });
  await publish.publish({
    frame: { frame: { case: "callSignal", value: { callId: randomUUID(), chatId, type: CallSignalType.OFFER, payload: Buffer.from("sdp") } } },
  });
  await alice.messaging.setChatTimer({ chatId, timerSeconds: 60 });
  await alice.messaging.deleteMessage({ messageId: first.messageId });
  for (const stream of Object.values(streams)) {
    await stream.untilCursor(6);
    await stream.take("callSignal");
  }

  const reference = events(streams["grpc-js Connect"]);
  expect(reference.map((f) => Object.keys(f as object).filter((k) => k !== "cursor" && k !== "time"))).toEqual([
    ["messageNew"],
    ["caughtUp"],
    ["messageNew"],
    ["messageEdited"],
    ["typing"],
    ["receipt"],
    ["callSignal"],
    ["chatTimerChanged"],
    ["messageDeleted"],
  ]);
  for (const [name, stream] of Object.entries(streams)) expect(events(stream), name).toEqual(reference);
});
