import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { type CallSignal, type CallSignalSchema, CallSignalType } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { findEverywhere } from "./helpers/db-scan.js";
import { createGroupOf, fullHistory, type Participant, participants, sendTo } from "./helpers/messaging.js";
import { anotherDevice, closeAllStreams, grpcJsConnect, type RealtimeStream, realtimeClient, sleep } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * WebRTC call signaling over bidi Connect streams (grpc-js): offers ring every device of
 * every callee, the first answer wins, ICE candidates are relayed between the two devices
 * in the call, and every call ends with a CALL_ENDED record in the chat. SDP and ICE pass
 * through and are never stored.
 */

const TURN_SECRET = "turn-shared-secret-for-tests";
const ICE_ENV = {
  ICE_STUN_URLS: "stun:stun.example.org:3478",
  ICE_TURN_URLS: "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
  TURN_SECRET,
  TURN_TTL_SECONDS: "600",
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: ICE_ENV });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

/** A device with an open stream, caught up. */
async function online(user: Participant, on: TestServer = server): Promise<RealtimeStream> {
  const stream = grpcJsConnect(on.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

function signal(stream: RealtimeStream, value: MessageInitShape<typeof CallSignalSchema> & { callId: string; type: CallSignalType }): void {
  stream.send({ requestId: `${CallSignalType[value.type]}-${value.callId.slice(0, 8)}`, frame: { case: "callSignal", value } });
}

const ofCall = (callId: string, type: CallSignalType) => (s: CallSignal) => s.callId === callId && s.type === type;

/** The CALL_ENDED record of `callId` as a stream received it. */
async function callRecord(stream: RealtimeStream, callId: string) {
  const { value } = await stream.take("messageNew", (m) => m.systemEvent?.kind === SystemEventKind.CALL_ENDED && m.systemEvent.callId === callId);
  return value;
}

describe("a call between two users", () => {
  it("rings every callee device; the answer reaches the caller, the other device hears ANSWERED_ELSEWHERE; ICE is relayed; END ends it with a record", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const bobTablet = await anotherDevice(server.baseUrl, bob);
    const { chatId } = await sendTo(alice, bob);
    const [caller, phone, tablet] = await Promise.all([online(alice), online(bob), online(bobTablet)]);
    const callId = randomUUID();
    const offer = Buffer.from(`v=0 offer ${randomBytes(16).toString("hex")}`);
    const answer = Buffer.from(`v=0 answer ${randomBytes(16).toString("hex")}`);

    signal(caller, { callId, chatId, type: CallSignalType.OFFER, payload: offer, video: true });
    for (const device of [phone, tablet]) {
      const { value } = await device.take("callSignal", ofCall(callId, CallSignalType.OFFER));
      expect(value).toMatchObject({ chatId, video: true, fromUserId: alice.userId, fromCyphrId: alice.cyphrId });
      expect(Buffer.from(value.payload)).toEqual(offer);
    }

    signal(phone, { callId, type: CallSignalType.ANSWER, payload: answer });
    const answered = await caller.take("callSignal", ofCall(callId, CallSignalType.ANSWER));
    expect(answered.value).toMatchObject({ chatId, fromUserId: bob.userId, fromCyphrId: bob.cyphrId });
    expect(Buffer.from(answered.value.payload)).toEqual(answer);
    await tablet.take("callSignal", ofCall(callId, CallSignalType.ANSWERED_ELSEWHERE));

    const callerCandidate = Buffer.from(`candidate:1 1 udp 2122260223 10.0.0.1 ${randomBytes(2).readUInt16BE()} typ host`);
    const calleeCandidate = Buffer.from(`candidate:2 1 udp 2122260223 10.0.0.2 ${randomBytes(2).readUInt16BE()} typ host`);
    signal(caller, { callId, type: CallSignalType.ICE_CANDIDATE, payload: callerCandidate });
    signal(phone, { callId, type: CallSignalType.ICE_CANDIDATE, payload: calleeCandidate });
    expect(Buffer.from((await phone.take("callSignal", ofCall(callId, CallSignalType.ICE_CANDIDATE))).value.payload)).toEqual(callerCandidate);
    expect(Buffer.from((await caller.take("callSignal", ofCall(callId, CallSignalType.ICE_CANDIDATE))).value.payload)).toEqual(calleeCandidate);
    // Only the device in the call hears the caller's candidates.
    expect(await tablet.quiet("callSignal", 200, ofCall(callId, CallSignalType.ICE_CANDIDATE))).toEqual([]);

    await sleep(1100);
    signal(caller, { callId, type: CallSignalType.END });
    const ended = await phone.take("callSignal", ofCall(callId, CallSignalType.END));
    expect(ended.value).toMatchObject({ reason: "completed", fromUserId: alice.userId });

    for (const stream of [caller, phone, tablet]) {
      const record = await callRecord(stream, callId);
      expect(record.systemEvent).toMatchObject({ callOutcome: "completed", callVideo: true, actorUserId: alice.userId });
      expect(record.systemEvent!.callDurationSeconds).toBeGreaterThanOrEqual(1);
      expect(record.systemEvent!.callDurationSeconds).toBeLessThanOrEqual(3);
    }
    const history = await fullHistory(bob, chatId);
    expect(history.at(-1)!.systemEvent).toMatchObject({ kind: SystemEventKind.CALL_ENDED, callId, callOutcome: "completed" });
    // The caller's own stream never rang.
    expect(caller.all("callSignal").filter(({ value }) => value.type === CallSignalType.OFFER)).toEqual([]);

    // SDP and ICE went through the server but are nowhere in the database (calls tables included).
    for (const secret of [offer, answer, callerCandidate, calleeCandidate]) {
      expect(await findEverywhere(server.databaseUrl, secret), secret.toString()).toEqual([]);
    }
  });

  it("a callee already in a call is busy: the caller gets BUSY, the callee is not rung, and a 'busy' record is written", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const { chatId: aliceBob } = await sendTo(alice, bob);
    const { chatId: carolBob } = await sendTo(carol, bob);
    const [aliceStream, bobStream, carolStream] = await Promise.all([online(alice), online(bob), online(carol)]);

    const first = randomUUID();
    signal(aliceStream, { callId: first, chatId: aliceBob, type: CallSignalType.OFFER, payload: Buffer.from("offer 1") });
    await bobStream.take("callSignal", ofCall(first, CallSignalType.OFFER));
    signal(bobStream, { callId: first, type: CallSignalType.ANSWER, payload: Buffer.from("answer 1") });
    await aliceStream.take("callSignal", ofCall(first, CallSignalType.ANSWER));

    const second = randomUUID();
    signal(carolStream, { callId: second, chatId: carolBob, type: CallSignalType.OFFER, payload: Buffer.from("offer 2") });
    const busy = await carolStream.take("callSignal", ofCall(second, CallSignalType.BUSY));
    expect(busy.value).toMatchObject({ chatId: carolBob, fromUserId: "" });
    expect((await callRecord(carolStream, second)).systemEvent).toMatchObject({ callOutcome: "busy", callDurationSeconds: 0 });
    expect(await bobStream.quiet("callSignal", 200, ofCall(second, CallSignalType.OFFER))).toEqual([]);
  });

  it("a callee's REJECT reaches the caller, stops the ringing on the callee's other devices, and writes a 'rejected' record", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const bobTablet = await anotherDevice(server.baseUrl, bob);
    const { chatId } = await sendTo(alice, bob);
    const [caller, phone, tablet] = await Promise.all([online(alice), online(bob), online(bobTablet)]);
    const callId = randomUUID();

    signal(caller, { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("offer") });
    await phone.take("callSignal", ofCall(callId, CallSignalType.OFFER));
    await tablet.take("callSignal", ofCall(callId, CallSignalType.OFFER));
    signal(tablet, { callId, type: CallSignalType.REJECT });

    expect((await caller.take("callSignal", ofCall(callId, CallSignalType.REJECT))).value).toMatchObject({ fromUserId: bob.userId });
    expect((await phone.take("callSignal", ofCall(callId, CallSignalType.END))).value).toMatchObject({ reason: "rejected" });
    expect((await callRecord(caller, callId)).systemEvent).toMatchObject({ callOutcome: "rejected", callDurationSeconds: 0 });
  });

  it("a caller who hangs up before an answer cancels the call on every callee device, with a 'cancelled' record", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const bobTablet = await anotherDevice(server.baseUrl, bob);
    const { chatId } = await sendTo(alice, bob);
    const [caller, phone, tablet] = await Promise.all([online(alice), online(bob), online(bobTablet)]);
    const callId = randomUUID();

    signal(caller, { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("offer") });
    await phone.take("callSignal", ofCall(callId, CallSignalType.OFFER));
    signal(caller, { callId, type: CallSignalType.END });
    for (const device of [phone, tablet]) {
      expect((await device.take("callSignal", ofCall(callId, CallSignalType.END))).value).toMatchObject({ reason: "cancelled" });
    }
    expect((await callRecord(phone, callId)).systemEvent).toMatchObject({ callOutcome: "cancelled" });
  });

  it("signals that break the rules are answered with frame_error, and fail the same way through Publish", async () => {
    const [alice, bob, mallory] = await participants(server.baseUrl, 3);
    const { chatId } = await sendTo(alice, bob);
    const [caller, callee, intruder] = await Promise.all([online(alice), online(bob), online(mallory)]);
    const callId = randomUUID();
    signal(caller, { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("offer") });
    await callee.take("callSignal", ofCall(callId, CallSignalType.OFFER));

    const expectFrameError = async (stream: RealtimeStream, requestId: string, code: Code, message: string) => {
      const { value } = await stream.take("frameError", (e) => e.requestId === requestId);
      expect({ code: Code[value.error!.code], message: value.error!.message }).toEqual({ code: Code[code], message: expect.stringContaining(message) });
    };
    intruder.send({ requestId: "answer-not-mine", frame: { case: "callSignal", value: { callId, type: CallSignalType.ANSWER, payload: Buffer.from("x") } } });
    await expectFrameError(intruder, "answer-not-mine", Code.NotFound, `call ${callId} not found`);
    intruder.send({
      requestId: "offer-foreign-chat",
      frame: { case: "callSignal", value: { callId: randomUUID(), chatId, type: CallSignalType.OFFER, payload: Buffer.from("x") } },
    });
    await expectFrameError(intruder, "offer-foreign-chat", Code.NotFound, `chat ${chatId} not found`);
    caller.send({ requestId: "own-answer", frame: { case: "callSignal", value: { callId, type: CallSignalType.ANSWER, payload: Buffer.from("x") } } });
    await expectFrameError(caller, "own-answer", Code.InvalidArgument, "the caller cannot answer their own call");
    caller.send({ requestId: "no-sdp", frame: { case: "callSignal", value: { callId: randomUUID(), chatId, type: CallSignalType.OFFER } } });
    await expectFrameError(caller, "no-sdp", Code.InvalidArgument, "call_signal.payload (the SDP offer) is required");
    caller.send({
      requestId: "bad-id",
      frame: { case: "callSignal", value: { callId: "not-a-uuid", chatId, type: CallSignalType.OFFER, payload: Buffer.from("x") } },
    });
    await expectFrameError(caller, "bad-id", Code.InvalidArgument, "call_signal.call_id");
    caller.send({ requestId: "too-big", frame: { case: "callSignal", value: { callId, type: CallSignalType.ICE_CANDIDATE, payload: randomBytes(65_537) } } });
    await expectFrameError(caller, "too-big", Code.InvalidArgument, "at most 65536 bytes");

    await expectRpcError(
      realtimeClient(server.baseUrl, mallory.accessToken).publish({
        frame: { frame: { case: "callSignal", value: { callId, type: CallSignalType.ANSWER, payload: Buffer.from("x") } } },
      }),
      Code.NotFound,
      `call ${callId} not found`,
    );
    // None of it disturbed the ringing call.
    expect(callee.all("callSignal").map(({ value }) => CallSignalType[value.type])).toEqual(["OFFER"]);
  });
});

it("a group call rings every member; when one answers, the others hear ANSWERED_ELSEWHERE", async () => {
  const [admin, bob, carol] = await participants(server.baseUrl, 3);
  const chatId = await createGroupOf(admin, [bob, carol]);
  const [caller, bobStream, carolStream] = await Promise.all([online(admin), online(bob), online(carol)]);
  const callId = randomUUID();

  signal(caller, { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("group offer") });
  await bobStream.take("callSignal", ofCall(callId, CallSignalType.OFFER));
  await carolStream.take("callSignal", ofCall(callId, CallSignalType.OFFER));
  signal(carolStream, { callId, type: CallSignalType.ANSWER, payload: Buffer.from("carol answers") });
  expect((await caller.take("callSignal", ofCall(callId, CallSignalType.ANSWER))).value.fromUserId).toBe(carol.userId);
  expect((await bobStream.take("callSignal", ofCall(callId, CallSignalType.ANSWERED_ELSEWHERE))).value.fromUserId).toBe(carol.userId);

  // Bob is out of the call: he is free for another one.
  const [dave] = await participants(server.baseUrl, 1);
  const { chatId: daveBob } = await sendTo(dave, bob);
  const daveStream = await online(dave);
  const next = randomUUID();
  signal(daveStream, { callId: next, chatId: daveBob, type: CallSignalType.OFFER, payload: Buffer.from("offer") });
  await bobStream.take("callSignal", ofCall(next, CallSignalType.OFFER));
});

it("a call nobody answers within RING_TIMEOUT_MS ends as 'missed' for everyone, with a 'missed' record", async () => {
  const quick = await startTestServer({ env: { RING_TIMEOUT_MS: "400" } });
  try {
    const [alice, bob] = await participants(quick.baseUrl, 2);
    const bobTablet = await anotherDevice(quick.baseUrl, bob);
    const { chatId } = await sendTo(alice, bob);
    const [caller, phone, tablet] = await Promise.all([online(alice, quick), online(bob, quick), online(bobTablet, quick)]);
    const callId = randomUUID();

    const offered = Date.now();
    signal(caller, { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("offer"), video: true });
    for (const device of [caller, phone, tablet]) {
      const { value } = await device.take("callSignal", ofCall(callId, CallSignalType.END), 3000);
      expect(value).toMatchObject({ reason: "missed", fromUserId: "" });
    }
    expect(Date.now() - offered).toBeGreaterThanOrEqual(400);
    const record = await callRecord(phone, callId);
    expect(record.systemEvent).toMatchObject({ callOutcome: "missed", callDurationSeconds: 0, callVideo: true, actorUserId: alice.userId });
    expect(timestampDate(record.createdAt!).getTime() - offered).toBeGreaterThanOrEqual(350);

    signal(phone, { callId, type: CallSignalType.ANSWER, payload: Buffer.from("too late") });
    const late = await phone.take("frameError");
    expect(late.value.error).toMatchObject({ code: Code.FailedPrecondition });
  } finally {
    await closeAllStreams();
    await quick.close();
  }
});

describe("GetIceServers", () => {
  it("returns the STUN servers and TURN servers with credentials the TURN server can verify from the shared secret", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const before = Math.floor(Date.now() / 1000);
    const res = await realtimeClient(server.baseUrl, alice.accessToken, "grpc").getIceServers({});
    const after = Math.floor(Date.now() / 1000);

    expect(res.ttlSeconds).toBe(600);
    expect(res.iceServers.map((s) => s.urls)).toEqual([
      ["stun:stun.example.org:3478"],
      ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
    ]);
    expect(res.iceServers[0]).toMatchObject({ username: "", credential: "" });
    const turn = res.iceServers[1]!;
    const [expiry, userId] = turn.username.split(":");
    expect(userId).toBe(alice.userId);
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600);
    expect(Number(expiry)).toBeLessThanOrEqual(after + 600);
    expect(turn.credential).toBe(createHmac("sha1", TURN_SECRET).update(turn.username).digest("base64"));
    expect(timestampDate(res.expiresAt!).getTime()).toBe(Number(expiry) * 1000);
  });

  it("requires authentication", async () => {
    await expectRpcError(realtimeClient(server.baseUrl, "").getIceServers({}), Code.Unauthenticated, "authorization");
  });
});
