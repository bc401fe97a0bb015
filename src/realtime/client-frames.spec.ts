import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { type ClientFrame, type ConnectRequest, ConnectRequestSchema, type ServerFrame, ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { ClientFrames, type FrameTarget, MAX_IN_FLIGHT } from "./client-frames.js";

const send = (chatId: string, requestId: string): ConnectRequest =>
  create(ConnectRequestSchema, {
    frame: { requestId, frame: { case: "sendMessage", value: { destination: { case: "chatId", value: chatId }, clientMessageId: requestId } } },
  });
const ack = (requestId: string): ConnectRequest => create(ConnectRequestSchema, { frame: { requestId, frame: { case: "ack", value: { cursor: 1n } } } });

/** A handler whose frames finish only when the test says so, in any order. */
function controlledHandler() {
  const pending: { frame: ClientFrame; queued(): void; finish(): void; reject(error: Error): void }[] = [];
  const handle = (frame: ClientFrame, queued: () => void) =>
    new Promise<ServerFrame | undefined>((resolve, reject) =>
      pending.push({ frame, queued, finish: () => resolve(create(ServerFrameSchema, { time: undefined })), reject }),
    );
  return { handle, pending, started: () => pending.map((p) => p.frame.requestId).sort() };
}

function target() {
  const calls: string[] = [];
  const stream: FrameTarget = {
    touch: () => calls.push("touch"),
    reply: () => calls.push("reply"),
    fail: (error: Error) => calls.push(`fail: ${error.message}`),
    clientDone: () => calls.push("clientDone"),
  };
  return { stream, calls };
}

function control() {
  const state = { paused: false, pauses: 0 };
  return { state, control: { pause: () => ((state.paused = true), state.pauses++), resume: () => (state.paused = false) } };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const log = pino({ level: "silent" });

describe("ClientFrames", () => {
  it("runs sends to different chats at once, one chat's sends in order, and another frame before the frames after it", async () => {
    const h = controlledHandler();
    const { stream } = target();
    const reader = new ClientFrames(h.handle, stream, control().control, log);
    for (const request of [send("a", "a1"), send("a", "a2"), send("b", "b1"), ack("k"), send("b", "b2")]) reader.push(request);
    await settle();
    // b2 waits behind the ack, a2 behind a1.
    expect(h.started()).toEqual(["a1", "b1", "k"]);
    h.pending.find((p) => p.frame.requestId === "b1")!.finish();
    await settle();
    expect(h.started()).toEqual(["a1", "b1", "k"]);
    h.pending.find((p) => p.frame.requestId === "k")!.finish();
    await settle();
    expect(h.started()).toEqual(["a1", "b1", "b2", "k"]);
    h.pending.find((p) => p.frame.requestId === "a1")!.finish();
    await settle();
    expect(h.started()).toEqual(["a1", "a2", "b1", "b2", "k"]);
  });

  it("starts a chat's next send once the one before it is queued for commit, before that one ends; in order, one at a time", async () => {
    const h = controlledHandler();
    const { stream, calls } = target();
    const reader = new ClientFrames(h.handle, stream, control().control, log);
    for (const request of [send("a", "a1"), send("a", "a2"), send("a", "a3")]) reader.push(request);
    await settle();
    expect(h.started()).toEqual(["a1"]);
    const byId = (id: string) => h.pending.find((p) => p.frame.requestId === id)!;
    byId("a1").queued();
    await settle();
    // a2 runs while a1 is still being committed; a3 waits for a2's turn.
    expect(h.started()).toEqual(["a1", "a2"]);
    byId("a2").queued();
    await settle();
    expect(h.started()).toEqual(["a1", "a2", "a3"]);
    // Answers come as each ends; the stream ends only when all three have.
    reader.end();
    for (const id of ["a3", "a1"]) byId(id).finish();
    await settle();
    expect(calls.filter((c) => c !== "touch")).toEqual(["reply", "reply"]);
    byId("a2").finish();
    await settle();
    expect(calls.filter((c) => c !== "touch")).toEqual(["reply", "reply", "reply", "clientDone"]);
  });

  it("a send that fails before it is queued lets the next one to its chat start", async () => {
    const h = controlledHandler();
    const { stream } = target();
    const reader = new ClientFrames(h.handle, stream, control().control, log);
    reader.push(send("a", "a1"));
    reader.push(send("a", "a2"));
    await settle();
    h.pending[0]!.reject(new InvalidArgumentError("bad payload"));
    await settle();
    expect(h.started()).toEqual(["a1", "a2"]);
  });

  it(`pauses reading at ${MAX_IN_FLIGHT} sends in flight and resumes once one finishes`, async () => {
    const h = controlledHandler();
    const { stream } = target();
    const { state, control: c } = control();
    const reader = new ClientFrames(h.handle, stream, c, log);
    for (let i = 0; i < MAX_IN_FLIGHT - 1; i++) reader.push(send(`chat${i}`, `s${i}`));
    await settle();
    expect(state.paused).toBe(false);
    reader.push(send("last", "last"));
    await settle();
    expect(state.paused).toBe(true);
    expect(reader.full).toBe(true);
    h.pending[0]!.finish();
    await settle();
    expect(state.paused).toBe(false);
  });

  it("pauses reading while 16 frames wait behind a frame being handled", async () => {
    const h = controlledHandler();
    const { stream } = target();
    const { state, control: c } = control();
    const reader = new ClientFrames(h.handle, stream, c, log);
    reader.push(ack("first"));
    for (let i = 0; i < 15; i++) reader.push(ack(`w${i}`));
    expect(state.paused).toBe(false);
    reader.push(ack("w15"));
    expect(state.paused).toBe(true);
    h.pending[0]!.finish();
    await settle();
    expect(state.paused).toBe(false);
  });

  it("a failing frame is answered with frame_error; the end is reported once everything received was handled", async () => {
    const h = controlledHandler();
    const { stream, calls } = target();
    const reader = new ClientFrames(h.handle, stream, control().control, log);
    reader.push(send("a", "a1"));
    reader.end(new InvalidArgumentError("request message does not decode"));
    await settle();
    expect(calls.filter((c) => c !== "touch")).toEqual([]);
    h.pending[0]!.reject(new InvalidArgumentError("bad send"));
    await settle();
    expect(calls.filter((c) => c !== "touch")).toEqual(["reply", "fail: request message does not decode"]);
  });
});
