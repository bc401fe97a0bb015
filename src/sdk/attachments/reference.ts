import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AttachmentReferenceSchema } from "../../gen/cyphr/attachments/v1/attachments_pb.js";
import { FORMAT, KEY_BYTES } from "./format.js";

/** What a recipient needs to fetch and open an attachment; it travels only inside end-to-end-encrypted messages. */
export interface AttachmentRef {
  attachmentId: string;
  /** The file key (32 bytes): secret. */
  key: Uint8Array;
  /** SHA-256 of the ciphertext. */
  sha256: Uint8Array;
  /** Ciphertext bytes. */
  size: number;
  plaintextSize: number;
  chunkSize: number;
  name: string;
  mediaType: string;
}

/** The message body that shares an attachment (cyphr.attachments.v1.AttachmentReference). */
export function encodeReference(ref: AttachmentRef): Uint8Array {
  return toBinary(
    AttachmentReferenceSchema,
    create(AttachmentReferenceSchema, { format: FORMAT, ...ref, size: BigInt(ref.size), plaintextSize: BigInt(ref.plaintextSize) }),
  );
}

/** The attachment a message body shares, or undefined when the body is not an AttachmentReference of this format. */
export function decodeReference(body: Uint8Array): AttachmentRef | undefined {
  let message;
  try {
    message = fromBinary(AttachmentReferenceSchema, body);
  } catch {
    return undefined;
  }
  if (message.format !== FORMAT || message.key.length !== KEY_BYTES || message.sha256.length !== 32 || message.attachmentId === "") return undefined;
  return {
    attachmentId: message.attachmentId,
    key: message.key,
    sha256: message.sha256,
    size: Number(message.size),
    plaintextSize: Number(message.plaintextSize),
    chunkSize: message.chunkSize,
    name: message.name,
    mediaType: message.mediaType,
  };
}
