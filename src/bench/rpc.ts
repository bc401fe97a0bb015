import { randomBytes } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { type ClientFrameSchema, type ConnectRequest, ConnectRequestSchema, RealtimeService, type ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";

/** One HTTP/2 connection (connect's gRPC transport): every call made through it is multiplexed on it. */
export function connection(baseUrl: string): Transport {
  // The client's session memory cap (10 MB by default) must not be what limits a load generator.
  return createGrpcTransport({ baseUrl, idleConnectionTimeoutMs: 3_600_000, pingIntervalMs: 600_000, nodeOptions: { maxSessionMemory: 1024 } });
}

export function authed(token: string, extra: CallOptions = {}): CallOptions {
  return { ...extra, headers: { authorization: `Bearer ${token}` } };
}

export function messagingClient(transport: Transport): Client<typeof MessagingService> {
  return createClient(MessagingService, transport);
}

export function realtimeClient(transport: Transport): Client<typeof RealtimeService> {
  return createClient(RealtimeService, transport);
}

/** The payload every benchmark message carries: random "ciphertext" (the server never looks inside). */
export interface PayloadShape {
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  tag: Uint8Array;
  kemCiphertext?: Uint8Array;
}

export function randomPayload(ciphertextBytes: number): PayloadShape {
  return { ciphertext: new Uint8Array(randomBytes(ciphertextBytes)), nonce: new Uint8Array(randomBytes(24)), tag: new Uint8Array(randomBytes(16)) };
}

/** A minimal unbounded async queue: the request side of a bidi stream. */
class FrameQueue implements AsyncIterable<ConnectRequest> {
  private readonly items: ConnectRequest[] = [];
  private waiter: (() => void) | undefined;
  private done = false;

  push(item: ConnectRequest): void {
    this.items.push(item);
    this.waiter?.();
  }

  end(): void {
    this.done = true;
    this.waiter?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ConnectRequest> {
    for (;;) {
      const item = this.items.shift();
      if (item) {
        yield item;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }
}

export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;

/**
 * A RealtimeService.Connect stream: sends `hello` (resume from the session's stored ack
 * unless a cursor is given), hands every server frame to `onFrame`, and resolves `caughtUp`
 * when the replay is over. `send` queues client frames (send_message, heartbeat, …).
 */
export class LiveStream {
  private readonly queue = new FrameQueue();
  private readonly controller = new AbortController();
  readonly caughtUp: Promise<void>;
  /** Resolves when the server ends the stream; carries the error if it failed. */
  readonly ended: Promise<Error | undefined>;
  closedByUs = false;

  constructor(client: Client<typeof RealtimeService>, token: string, onFrame: (frame: ServerFrame) => void, resumeCursor?: bigint) {
    this.queue.push(create(ConnectRequestSchema, { frame: { frame: { case: "hello", value: { resumeCursor } } } }));
    let caughtUp!: () => void;
    let failed!: (e: Error) => void;
    this.caughtUp = new Promise((resolve, reject) => ((caughtUp = resolve), (failed = reject)));
    this.caughtUp.catch(() => undefined);
    const responses = client.connect(this.queue, authed(token, { signal: this.controller.signal }));
    this.ended = (async () => {
      try {
        for await (const res of responses) {
          const frame = res.frame;
          if (!frame) continue;
          if (frame.event.case === "caughtUp") caughtUp();
          onFrame(frame);
        }
        failed(new Error("stream ended before caught_up"));
        return this.closedByUs ? undefined : new Error("stream ended by the server");
      } catch (error) {
        failed(error as Error);
        return this.closedByUs ? undefined : (error as Error);
      }
    })();
  }

  send(frame: ClientFrameInit): void {
    this.queue.push(create(ConnectRequestSchema, { frame }));
  }

  close(): void {
    this.closedByUs = true;
    this.queue.end();
    this.controller.abort();
  }
}
