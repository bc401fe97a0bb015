import { randomBytes, randomUUID } from "node:crypto";
import { create, equals } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DurableKind } from "../events/model.js";
import { ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { type EphemeralNotice, MAX_NOTIFY_BYTES } from "./notice.js";
import { encodeNotice, NoticeDecoder } from "./notice-codec.js";

const typing = (users: string[]): EphemeralNotice => ({
  type: "ephemeral",
  frame: create(ServerFrameSchema, { event: { case: "typing", value: { chatId: randomUUID(), userId: randomUUID(), typing: true } } }),
  users,
});

describe("notice codec", () => {
  it("reads back an ephemeral notice as it was written: frame, users, only and except sessions", () => {
    const notice = { ...typing([randomUUID(), randomUUID()]), onlySession: randomUUID() };
    const [payload, ...more] = encodeNotice(notice);
    expect(more).toEqual([]);
    const decoded = new NoticeDecoder().decode(payload!);
    expect(decoded).toMatchObject({ type: "ephemeral", users: notice.users, onlySession: notice.onlySession });
    expect(decoded).not.toHaveProperty("exceptSession");
    expect(equals(ServerFrameSchema, (decoded as EphemeralNotice).frame, notice.frame)).toBe(true);
  });

  it("reads back a revocation", () => {
    const notice = { type: "revoke", userId: randomUUID(), sessionId: randomUUID() } as const;
    expect(encodeNotice(notice).map((p) => new NoticeDecoder().decode(p))).toEqual([notice]);
  });

  it("splits a notice for many users into payloads under MAX_NOTIFY_BYTES that name every user once", () => {
    const users = Array.from({ length: 1_000 }, () => randomUUID());
    const payloads = encodeNotice(typing(users));
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
    const decoder = new NoticeDecoder();
    expect(payloads.flatMap((p) => (decoder.decode(p) as EphemeralNotice).users)).toEqual(users);
  });

  it("chunks a notice for one user that is too large, each chunk under MAX_NOTIFY_BYTES, and reassembles it in any order", () => {
    const frame = create(ServerFrameSchema, {
      event: { case: "callSignal", value: { callId: randomUUID(), chatId: randomUUID(), payload: randomBytes(20_000), reason: 'ü"'.repeat(2_000) } },
    });
    const payloads = encodeNotice({ type: "ephemeral", frame, users: [randomUUID()] });
    expect(payloads.length).toBeGreaterThan(3);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
    const decoder = new NoticeDecoder();
    const [first, ...rest] = payloads;
    for (const p of rest.reverse()) expect(decoder.decode(p)).toBeUndefined();
    const whole = decoder.decode(first!) as EphemeralNotice;
    expect(equals(ServerFrameSchema, whole.frame, frame)).toBe(true);
  });

  it("reads a durable notice in the compact form cyphr_record_events writes", () => {
    const [chat, user, message] = [randomUUID(), randomUUID(), randomUUID()];
    const decoder = new NoticeDecoder();
    const wire = { t: "d", k: 1, c: chat, s: 7, d: null, at: 1_700_000_000_123, m: message, ex: 1_700_000_060_000, u: [[user, 42]] };
    expect(decoder.decode(JSON.stringify(wire))).toEqual({
      type: "durable",
      kind: DurableKind.messageNew,
      chatId: chat,
      seq: 7,
      data: null,
      at: new Date(1_700_000_000_123),
      sent: { messageId: message, expiresAt: new Date(1_700_000_060_000) },
      recipients: [[user, 42]],
    });
    const receipt = { ...wire, k: 4, s: null, d: { user, read: 3 }, m: null, ex: null };
    expect(decoder.decode(JSON.stringify(receipt))).toMatchObject({ kind: DurableKind.receipt, seq: null, data: { user, read: 3 }, sent: undefined });
  });

  it("refuses a payload that is no notice", () => {
    const decoder = new NoticeDecoder();
    expect(() => decoder.decode("{not json")).toThrow();
    expect(() => decoder.decode(JSON.stringify({ t: "?" }))).toThrow(/unknown notice type/);
  });
});
