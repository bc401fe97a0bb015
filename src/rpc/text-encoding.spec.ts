import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckAvailabilityRequestSchema } from "../gen/cyphr/identity/v1/identity_pb.js";
import { useNodeTextEncoding } from "./text-encoding.js";

const STRINGS = ["", "alice_123", "ünïcödé ✓ 🎉", "\u{10FFFF}", "a\uD800b" /* lone surrogate */, "\uFEFFbom"];

describe("useNodeTextEncoding", () => {
  const before = getTextEncoding();
  const whatwg = { te: new TextEncoder(), td: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }) };
  beforeAll(useNodeTextEncoding);
  afterAll(() => configureTextEncoding(before));

  it.each(STRINGS)("encodes %j to the bytes TextEncoder gives, and reads it back", (text) => {
    const bytes = toBinary(CheckAvailabilityRequestSchema, create(CheckAvailabilityRequestSchema, { cyphrId: text }));
    const expected = whatwg.te.encode(text);
    expect(Buffer.from(bytes.subarray(bytes.length - expected.length))).toEqual(Buffer.from(expected));
    expect(fromBinary(CheckAvailabilityRequestSchema, bytes).cyphrId).toBe(whatwg.td.decode(expected));
  });

  it("refuses invalid UTF-8 in a string field, as TextDecoder's fatal mode does", () => {
    const bytes = new Uint8Array([0x0a, 0x03, 0x61, 0xff, 0x62]);
    expect(() => fromBinary(CheckAvailabilityRequestSchema, bytes)).toThrow(/not valid for encoding utf-8/);
  });

  it("is the encoding protobuf-es uses once installed", () => {
    expect(getTextEncoding()).not.toBe(before);
    expect(Buffer.isBuffer(getTextEncoding().encodeUtf8("x"))).toBe(true);
  });
});
