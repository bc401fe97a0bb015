/**
 * Encrypted attachments for one signed-in account: upload (with resume), download as a
 * decrypting stream (with resume), share through an MLS chat, delete (docs/attachments.md).
 */
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { AttachmentsService } from "../../gen/cyphr/attachments/v1/attachments_pb.js";
import { MessageType } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { call } from "../errors.js";
import type { MlsDevice, TokenSource } from "../mls/index.js";
import { type DownloadOptions, downloadFile } from "./download.js";
import { type AttachmentRef, decodeReference, encodeReference } from "./reference.js";
import type { FileSource } from "./source.js";
import { type UploadOptions, uploadFile } from "./upload.js";

export interface SentFile {
  reference: AttachmentRef;
  messageId: string;
  seq: bigint;
}

export class Attachments {
  readonly client: Client<typeof AttachmentsService>;

  constructor(
    transport: Transport,
    private readonly tokens: TokenSource,
    /** The chat engine sendFile sends through. */
    private readonly mls?: MlsDevice,
  ) {
    this.client = createClient(AttachmentsService, transport);
  }

  /** Encrypts and uploads a file; the returned reference (with its key) is what recipients need. */
  upload(source: FileSource, options: UploadOptions = {}): Promise<AttachmentRef> {
    return call(() => uploadFile(this.client, () => this.auth(), source, options));
  }

  /**
   * Uploads a file and sends its reference as an end-to-end-encrypted message (MessageType
   * FILE) to the chat. With the chat's disappearing timer as `expiresInSeconds` the
   * attachment expires with the message.
   */
  async sendFile(chatId: string, source: FileSource, options: UploadOptions = {}): Promise<SentFile> {
    if (!this.mls) throw new TypeError("sendFile needs the MlsDevice passed to new Attachments(transport, tokens, mls)");
    const reference = await this.upload(source, options);
    const sent = await this.mls.send(chatId, encodeReference(reference), { messageType: MessageType.FILE });
    return { reference, ...sent };
  }

  /** The decrypted file, checked as it streams. */
  download(reference: AttachmentRef, options: DownloadOptions = {}): ReadableStream<Uint8Array> {
    return downloadFile(this.client, () => this.auth(), reference, options);
  }

  /** Deletes one of this account's attachments (recipients get NOT_FOUND from then on). */
  async delete(attachmentId: string): Promise<void> {
    await call(async () => this.client.deleteAttachment({ id: attachmentId }, await this.auth()));
  }

  /** The attachment a message body shares (a history message's bytes), or undefined. */
  static referenceIn(body: Uint8Array): AttachmentRef | undefined {
    return decodeReference(body);
  }

  private async auth(): Promise<{ headers: Record<string, string> }> {
    return { headers: { authorization: `Bearer ${await this.tokens.accessToken()}` } };
  }
}
