import { isUtf8 } from "node:buffer";
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

/**
 * protobuf-es converts every string field through the WHATWG TextEncoder/TextDecoder by
 * default; in Node each `encode` of a short string allocates a fresh ArrayBuffer through
 * C++, which made UTF-8 a quarter of encoding a send_result frame (docs/benchmarks.md).
 * Node's Buffer does the same conversion from its pre-allocated pool, and `isUtf8`
 * validates without decoding twice. Output is byte-for-byte the same (lone surrogates
 * become U+FFFD either way); strict decoding still refuses invalid UTF-8 with the message
 * TextDecoder's fatal mode gives. One difference, on purpose: a leading U+FEFF is kept as
 * the protobuf string it is (TextDecoder drops it), as other protobuf runtimes do.
 */
export function useNodeTextEncoding(): void {
  const fallback = getTextEncoding();
  configureTextEncoding({
    encodeUtf8: (text) => Buffer.from(text, "utf8"),
    decodeUtf8: (bytes, strict) => {
      if (strict && !isUtf8(bytes)) throw new TypeError("The encoded data was not valid for encoding utf-8");
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    },
    checkUtf8: fallback.checkUtf8,
  });
}
