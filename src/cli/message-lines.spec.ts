import { describe, expect, it } from "vitest";
import type { HistoryMessage, IdentityNotice } from "../sdk/index.js";
import { historyLines } from "./message-lines.js";

const message = (seq: bigint, text: string): HistoryMessage => ({
  seq,
  messageId: `m${seq}`,
  senderCyphrId: "alice",
  own: false,
  deleted: false,
  readable: true,
  contentType: "text",
  text,
  bytes: new Uint8Array(0),
  edited: false,
});
const notice = (afterSeq: bigint): IdentityNotice => ({ cyphrId: "bob", userId: "u", safetyNumber: "12345", at: new Date(0), afterSeq });

describe("history lines", () => {
  it("place each safety-number change after the last message before it, and keep control characters out", () => {
    const lines = historyLines([message(2n, "one"), message(4n, "two\u001b[2J")], [notice(0n), notice(3n), notice(4n)]);
    expect(lines).toEqual([
      "-- bob's safety number changed (they recovered their account); new: 12345",
      "[2] alice: one",
      "-- bob's safety number changed (they recovered their account); new: 12345",
      "[4] alice: two�[2J",
      "-- bob's safety number changed (they recovered their account); new: 12345",
    ]);
  });
});
