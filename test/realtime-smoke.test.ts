import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConnectRequestSchema, RealtimeService, type ServerFrame } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { clientFor } from "./helpers/clients.js";
import { participant, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it("delivers replay, caught_up and live messages on Connect", async () => {
  const alice = await participant(server.baseUrl);
  const bob = await participant(server.baseUrl);
  const first = await sendTo(alice, bob);
  const rt = clientFor(RealtimeService, "grpc", server.baseUrl, { token: bob.accessToken });
  const controller = new AbortController();
  async function* requests() {
    yield create(ConnectRequestSchema, { frame: { frame: { case: "hello", value: { resumeCursor: 0n } } } });
    await new Promise((r) => controller.signal.addEventListener("abort", r));
  }
  const frames: ServerFrame[] = [];
  const iterator = rt.connect(requests(), { signal: controller.signal })[Symbol.asyncIterator]();
  const next = async () => (await iterator.next()).value!.frame!;
  frames.push(await next());
  frames.push(await next());
  expect(frames[0]!.event.case).toBe("messageNew");
  expect(frames[1]!.event.case).toBe("caughtUp");
  const second = await sendTo(alice, bob);
  const live = await next();
  expect(live.event.case).toBe("messageNew");
  expect(live.cursor).toBe(2n);
  expect(live.event.value && "seq" in live.event.value ? live.event.value.seq : 0n).toBe(second.seq);
  expect(first.chatId).toBe(second.chatId);
  controller.abort();
});
