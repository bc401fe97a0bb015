import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client, type Transport } from "@connectrpc/connect";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { MessageType, type MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import type { ServerFrame, SendResult } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SendMessageRequestSchema } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { authed, connection, LiveStream, messagingClient, randomPayload, realtimeClient, type PayloadShape } from "./rpc.js";
import { DeliveryTracker } from "./tracker.js";
import type { BenchUser } from "./users.js";

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
  senderStream?: LiveStream;
  recipientStream?: LiveStream;
}

type SendInit = MessageInitShape<typeof SendMessageRequestSchema>;

/**
 * The sender/recipient pairs of one worker: each recipient holds an open Connect stream;
 * senders send by unary SendMessage or as send_message frames on their own Connect stream.
 * Connections: one HTTP/2 connection per instance for senders, one for recipients' streams.
 */
export class PairTraffic {
  readonly tracker = new DeliveryTracker();
  /** Called once per message at its first arrival on the recipient's stream (performance.now() ms). */
  onDelivered: ((id: string, at: number) => void) | undefined;
  private readonly pairs: Pair[];
  private readonly messaging = new Map<string, Client<typeof MessagingService>>();
  private readonly pending = new Map<string, (result: SendResult) => void>();
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
      payload: options.kemFirst
        ? { ...base, kemCiphertext: ml_kem1024.encapsulate(Buffer.from(spec.recipient.mlKemPublicKey, "base64")).cipherText }
        : base,
    }));
  }

  get size(): number {
    return this.pairs.length;
  }

  /** Opens every stream (waits for caught_up), creates each pair's chat with one warm-up message and waits for its delivery. */
  async open(): Promise<void> {
    const senderConn = new Map<string, Transport>();
    const recipientConn = new Map<string, Transport>();
    const conn = (map: Map<string, Transport>, url: string) => map.get(url) ?? map.set(url, connection(url)).get(url)!;
    for (const pair of this.pairs) {
      const rt = realtimeClient(conn(recipientConn, pair.recipientUrl));
      pair.recipientStream = this.watch(new LiveStream(rt, pair.recipient.accessToken, (f) => this.onRecipientFrame(f)));
      if (this.options.mode === "frames") {
        const st = realtimeClient(conn(senderConn, pair.senderUrl));
        pair.senderStream = this.watch(new LiveStream(st, pair.sender.accessToken, (f) => this.onSenderFrame(f)));
      }
      if (!this.messaging.has(pair.senderUrl)) this.messaging.set(pair.senderUrl, messagingClient(conn(senderConn, pair.senderUrl)));
    }
    await Promise.all(this.pairs.flatMap((p) => [p.recipientStream!.caughtUp, p.senderStream?.caughtUp]));
    await Promise.all(
      this.pairs.map(async (pair) => {
        const id = randomUUID();
        const arrived = new Promise<void>((resolve) => this.warmup.set(id, resolve));
        const res = await this.messaging.get(pair.senderUrl)!.sendMessage(
          this.request(pair, id, { case: "recipientCyphrId", value: pair.recipient.cyphrId }),
          authed(pair.sender.accessToken, { timeoutMs: 60_000 }),
        );
        pair.chatId = res.chatId;
        await arrived;
      }),
    );
  }

  /** Sends one message of pair `index`; resolves true when the server accepted it (committed). */
  async send(index: number, id: string = randomUUID()): Promise<boolean> {
    const pair = this.pairs[index]!;
    this.tracker.onSent(id);
    const req = this.request(pair, id, { case: "chatId", value: pair.chatId });
    try {
      if (this.options.mode === "unary") {
        await this.messaging.get(pair.senderUrl)!.sendMessage(req, authed(pair.sender.accessToken, { timeoutMs: 60_000 }));
      } else {
        const requestId = String(++this.nextRequest);
        const result = await new Promise<SendResult>((resolve) => {
          this.pending.set(requestId, resolve);
          pair.senderStream!.send({ requestId, frame: { case: "sendMessage", value: req } });
        });
        if (result.error) {
          this.tracker.onError(Code[result.error.code] ?? String(result.error.code), result.error.message);
          return false;
        }
      }
      this.tracker.onAccepted(id);
      return true;
    } catch (error) {
      const kind = error instanceof ConnectError ? Code[error.code] : "client";
      this.tracker.onError(kind, (error as Error).message);
      return false;
    }
  }

  /** Waits until every accepted message arrived, or `timeoutMs` passed. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.tracker.undelivered() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  close(): void {
    for (const pair of this.pairs) {
      pair.recipientStream?.close();
      pair.senderStream?.close();
    }
    for (const resolve of this.pending.values()) resolve({ error: { code: Code.Aborted, message: "closed" } } as SendResult);
  }

  private request(pair: Pair, clientMessageId: string, destination: SendInit["destination"]): SendInit {
    return { destination, clientMessageId, payload: pair.payload, messageType: MessageType.TEXT };
  }

  private watch(stream: LiveStream): LiveStream {
    void stream.ended.then((error) => {
      if (error) this.streamErrors.push(error.message.slice(0, 200));
    });
    return stream;
  }

  private onRecipientFrame(frame: ServerFrame): void {
    if (frame.event.case !== "messageNew") return;
    const id = frame.event.value.clientMessageId;
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

  private onSenderFrame(frame: ServerFrame): void {
    if (frame.event.case !== "sendResult") return;
    const resolve = this.pending.get(frame.event.value.requestId);
    if (!resolve) return;
    this.pending.delete(frame.event.value.requestId);
    resolve(frame.event.value);
  }
}
