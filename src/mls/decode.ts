import { decodeMlsMessage, type MLSMessage } from "ts-mls";

/**
 * One whole MLSMessage (RFC 9420 §6) from bytes, or undefined when the bytes are not
 * exactly one well-formed message of protocol version mls10. ts-mls's decoders return
 * undefined or throw on malformed input; both become undefined here, and trailing bytes
 * are refused.
 */
export function decodeWholeMlsMessage(bytes: Uint8Array): MLSMessage | undefined {
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch {
    return undefined;
  }
  if (!decoded || decoded[1] !== bytes.length) return undefined;
  return decoded[0].version === "mls10" ? decoded[0] : undefined;
}
