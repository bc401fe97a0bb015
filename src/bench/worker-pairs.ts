import { randomUUID } from "node:crypto";
import { type Client, Code } from "@connectrpc/connect";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { MessageType, type MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { encodeSendConstant, envelopedSendFrame, envelopedSendRequest, FrameEvent, type FrameFacts } from "./frame-codec.js";
import { FrameStream } from "./frame-stream.js";
import { H2Connection } from "./h2-client.js";
import { authed, connection, messagingClient, type PayloadShape, randomPayload } from "./rpc.js";
import { DeliveryTracker } from "./tracker.js";
import type { BenchUser } from "./users.js";

const SEND_MESSAGE_PATH = "/cyphr.messaging.v1.MessagingService/SendMessage";
const SEND_TIMEOUT_MS = 60_000;
/** How long a pair's warm-up message may take to reach the recipient's stream before the run gives up. */
const WARMUP_TIMEOUT_MS = 20_000;
const ignore = () => undefined;

/** A send_message frame's answer, as far as the load generator reads it. */
type SendAnswer = Pick<FrameFacts, "failed" | "errorCode" | "errorMessage">;

export type SendMode = "unary" | "frames";

export interface PairSpec {
  sender: BenchUser;
  recipient: BenchUser;
  /** Instance the sender talks to. */
  senderUrl: string;
  /** Instance holding the recipient's stream. */
  recipientUrl: string;
}

export interface TrafficOptions {
  mode: SendMode;
  payloadBytes: number;
  /** Every message carries a real ML-KEM-1024 ciphertext (1568 bytes) for the recipient, as a session's first message does. */
  kemFirst: boolean;
}

interface Pair extends PairSpec {
  chatId: string;
  payload: PayloadShape;
  /** The pair's SendMessageRequest without its client_message_id, encoded once the chat exists. */
  constant: Uint8Array;
  senderConnection?: H2Connection;
  senderStream?: FrameStream;
  recipientStream?: FrameStream;
}

/**
 * The sender/recipient pairs of one worker: each recipient holds an open Connect stream;
 * senders send by unary SendMessage or as send_message frames on their own Connect stream.
 * Connections: one HTTP/2 connection per instance for senders, one for recipients' streams.
 * Everything measured goes over the raw HTTP/2 client (h2-client.ts, frame-codec.ts); the
 * warm-up send that creates each pair's chat goes through connect-es (setup, not measured).
 */
export class PairTraffic {
  readonly tracker = new DeliveryTracker();
  /** Called once per message at its first arrival on the recipient's stream (performance.now() ms). */
  onDelivered: ((id: string, at: number) => void) | undefined;
  private readonly pairs: Pair[];
  private readonly pending = new Map<string, (answer: SendAnswer) => void>();
  private readonly connections: H2Connection[] = [];
  private readonly warmup = new Map<string, () => void>();
  private nextRequest = 0;
  readonly streamErrors: string[] = [];

  constructor(
    specs: readonly PairSpec[],
    private readonly options: TrafficOptions,
  ) {
    const base = randomPayload(options.payloadBytes);
    this.pairs = specs.map((spec) => ({
      ...spec,
      chatId: "",
      constant: new Uint8Array(),
      payload: options.kemFirst ? { ...base, kemCiphertext: ml_kem1024.encapsulate(Buffer.from(spec.recipient.mlKemPublicKey, "base64")).cipherText } : base,
    }));
  }

  get size(): number {
    return this.pairs.length;
  }

  /** Opens every stream (waits for caught_up), creates each pair's chat with one warm-up message and waits for its delivery. */
  async open(): Promise<void> {
    const senderConn = new Map<string, H2Connection>();
    const recipientConn = new Map<string, H2Connection>();
    const conn = (map: Map<string, H2Connection>, url: string) => {
      let c = map.get(url);
      if (!c) {
        c = new H2Connection(url);
        map.set(url, c);
        this.connections.push(c);
      }
      return c;
    };
    for (const pair of this.pairs) {
      pair.recipientStream = this.watch(new FrameStream(conn(recipientConn, pair.recipientUrl), pair.recipient.accessToken, (f) => this.onRecipientFrame(f)));
      pair.senderConnection = conn(senderConn, pair.senderUrl);
      if (this.options.mode === "frames") {
        pair.senderStream = this.watch(new FrameStream(pair.senderConnection, pair.sender.accessToken, (f) => this.onSenderFrame(f)));
      }
    }
    await Promise.all(this.pairs.flatMap((p) => [p.recipientStream!.caughtUp, p.senderStream?.caughtUp]));
    const setup = new Map<string, Client<typeof MessagingService>>();
    await Promise.all(
      this.pairs.map(async (pair) => {
        const id = randomUUID();
        const warmup = this.expectWarmup(id, `the warm-up message of ${pair.sender.cyphrId} to ${pair.recipient.cyphrId}`);
        if (!setup.has(pair.senderUrl)) setup.set(pair.senderUrl, messagingClient(connection(pair.senderUrl)));
        const res = await setup.get(pair.senderUrl)!.sendMessage(
          {
            destination: { case: "recipientCyphrId", value: pair.recipient.cyphrId },
            clientMessageId: id,
            payload: pair.payload,
            messageType: MessageType.TEXT,
          },
          authed(pair.sender.accessToken, { timeoutMs: SEND_TIMEOUT_MS }),
        );
        pair.chatId = res.chatId;
        pair.constant = encodeSendConstant({ case: "chatId", value: pair.chatId }, pair.payload);
        await warmup;
      }),
    );
  }

  /** Resolves when message `id` reaches a recipient's stream; rejects after WARMUP_TIMEOUT_MS. */
  private expectWarmup(id: string, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve, reject) => {
      this.warmup.set(id, resolve);
      timer = setTimeout(() => reject(new Error(`${what} did not arrive within ${WARMUP_TIMEOUT_MS} ms`)), WARMUP_TIMEOUT_MS);
      timer.unref();
    }).finally(() => clearTimeout(timer));
    arrived.catch(() => undefined); // rejections reach whoever awaits it; a failed send before that is reported instead
    return arrived;
  }

  /** Sends one message of pair `index`; resolves true when the server accepted it (committed). */
  async send(index: number, id: string = randomUUID()): Promise<boolean> {
    const pair = this.pairs[index]!;
    this.tracker.onSent(id);
    let answer: SendAnswer;
    if (this.options.mode === "unary") {
      answer = await this.sendUnary(pair, id);
    } else {
      const requestId = String(++this.nextRequest);
      answer = await new Promise<SendAnswer>((resolve) => {
        this.pending.set(requestId, resolve);
        pair.senderStream!.send(envelopedSendFrame(pair.constant, requestId, id));
      });
    }
    if (answer.failed) {
      this.tracker.onError(Code[answer.errorCode] ?? String(answer.errorCode), answer.errorMessage);
      return false;
    }
    this.tracker.onAccepted(id);
    return true;
  }

  private async sendUnary(pair: Pair, id: string): Promise<SendAnswer> {
    try {
      const call = pair.senderConnection!.call(SEND_MESSAGE_PATH, pair.sender.accessToken, ignore, SEND_TIMEOUT_MS);
      call.end(envelopedSendRequest(pair.constant, id));
      const status = await call.status;
      return { failed: status.code !== 0, errorCode: status.code, errorMessage: status.message };
    } catch (error) {
      // node:http2 refuses new streams on a session that is gone.
      return { failed: true, errorCode: Code.Unavailable, errorMessage: (error as Error).message };
    }
  }

  /** Waits until every accepted message arrived, or `timeoutMs` passed. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.tracker.undelivered() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** Ends every recipient's stream (the senders' stay): what a recipient going away looks like to the count. */
  closeRecipientStreams(): void {
    for (const pair of this.pairs) pair.recipientStream?.close();
  }

  close(): void {
    for (const pair of this.pairs) {
      pair.recipientStream?.close();
      pair.senderStream?.close();
    }
    for (const resolve of this.pending.values()) resolve({ failed: true, errorCode: Code.Aborted, errorMessage: "closed" });
    for (const c of this.connections) c.close();
  }

  private watch(stream: FrameStream): FrameStream {
    void stream.ended.then((error) => {
      if (error) this.streamErrors.push(error.message.slice(0, 200));
    });
    return stream;
  }

  private onRecipientFrame(frame: FrameFacts): void {
    if (frame.event !== FrameEvent.messageNew) return;
    const id = frame.clientMessageId;
    if (this.tracker.onReceived(id)) {
      this.onDelivered?.(id, performance.now());
      return;
    }
    const warm = this.warmup.get(id);
    if (warm) {
      this.warmup.delete(id);
      warm();
    }
  }

  private onSenderFrame(frame: FrameFacts): void {
    if (frame.event !== FrameEvent.sendResult) return;
    const resolve = this.pending.get(frame.requestId);
    if (!resolve) return;
    this.pending.delete(frame.requestId);
    resolve(frame);
  }
}
