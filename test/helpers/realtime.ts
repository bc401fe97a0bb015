import { create } from "@bufbuild/protobuf";
import { type Client, type Code, ConnectError, createClient } from "@connectrpc/connect";
import { GroupsService } from "../../src/gen/cyphr/groups/v1/groups_pb.js";
import type { IdentityService } from "../../src/gen/cyphr/identity/v1/identity_pb.js";
import { MessagingService } from "../../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { type ConnectRequest, ConnectRequestSchema, RealtimeService, ServerFrameSchema } from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { clientFor, identityClient, type Protocol, transportFor } from "./clients.js";
import type { StreamStatus } from "./inbox.js";
import { type Participant, randomPayload, sendTo } from "./messaging.js";
import { type HelloOptions, helloFrame, RealtimeStream } from "./realtime-stream.js";
import { loginUser } from "./users.js";

export { frameFromGrpcJs, grpcJsConnect, grpcJsRealtimeClient } from "./realtime-grpc-js.js";
export { type ClientFrameInit, closeAllStreams, type HelloOptions, RealtimeStream } from "./realtime-stream.js";

/** Connect-ES clients of RealtimeService (Connect, gRPC and gRPC-Web transports), and helpers for realtime tests. */

class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private closed = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

function statusOf(error: unknown): StreamStatus {
  const e = ConnectError.from(error);
  return { code: e.code, message: e.rawMessage };
}

export interface ConnectEsOptions extends HelloOptions {
  /** "grpc" or "connect" for Connect (bidi needs HTTP/2); any protocol for Subscribe. */
  protocol?: Protocol;
  httpVersion?: "1.1" | "2";
}

/** Opens RealtimeService.Connect through a Connect-ES transport and sends the hello. */
export function connectEsConnect(baseUrl: string, token: string | undefined, options: ConnectEsOptions = {}): RealtimeStream {
  const protocol = options.protocol ?? "grpc";
  const client = createClient(RealtimeService, transportFor(protocol, baseUrl, { token }));
  const controller = new AbortController();
  const requests = new Outbox<ConnectRequest>();
  const stream = new RealtimeStream(`${protocol} Connect`, {
    send: (frame) => requests.push(create(ConnectRequestSchema, { frame })),
    halfClose: () => requests.close(),
    cancel: () => controller.abort(),
  });
  if (!options.noHello) stream.send(helloFrame(options));
  stream.keepAlive(options.heartbeatEveryMs);
  void (async () => {
    try {
      for await (const res of client.connect(requests, { signal: controller.signal })) stream.push(res.frame ?? create(ServerFrameSchema));
      stream.finish({ code: 0 as Code, message: "" });
    } catch (error) {
      stream.finish(statusOf(error));
    }
  })();
  return stream;
}

/** Opens RealtimeService.Subscribe (gRPC-Web over HTTP/2 unless told otherwise). */
export function subscribe(baseUrl: string, token: string | undefined, options: ConnectEsOptions = {}): RealtimeStream {
  const protocol = options.protocol ?? "grpc-web";
  const httpVersion = options.httpVersion ?? "2";
  const client = createClient(RealtimeService, transportFor(protocol, baseUrl, { token, httpVersion }));
  const controller = new AbortController();
  const stream = new RealtimeStream(`${protocol}/${httpVersion} Subscribe`, {
    send: () => {
      throw new Error("Subscribe streams carry no client frames: use Publish");
    },
    halfClose: () => undefined,
    cancel: () => controller.abort(),
  });
  const resumeCursor = options.resumeCursor === undefined ? undefined : BigInt(options.resumeCursor);
  void (async () => {
    try {
      for await (const res of client.subscribe({ resumeCursor }, { signal: controller.signal })) stream.push(res.frame ?? create(ServerFrameSchema));
      stream.finish({ code: 0 as Code, message: "" });
    } catch (error) {
      stream.finish(statusOf(error));
    }
  })();
  return stream;
}

// ---------------------------------------------------------------------------------------
// Users and clients

export function realtimeClient(baseUrl: string, token: string, protocol: Protocol = "connect"): Client<typeof RealtimeService> {
  return clientFor(RealtimeService, protocol, baseUrl, { token });
}

/** The same user signed in again (a second session of the same device, device 1) with clients of its own; linkDevice (./devices.ts) adds a real second device. */
export async function anotherDevice(baseUrl: string, user: Participant): Promise<Participant> {
  const session = await loginUser(identityClient("connect", baseUrl), user);
  return {
    ...session,
    messaging: clientFor(MessagingService, "connect", baseUrl, { token: session.accessToken }),
    groups: clientFor(GroupsService, "connect", baseUrl, { token: session.accessToken }),
  };
}

/** The same participant, with clients that talk to another server (instance). */
export function onServer(baseUrl: string, user: Participant): Participant {
  return {
    ...user,
    messaging: clientFor(MessagingService, "connect", baseUrl, { token: user.accessToken }),
    groups: clientFor(GroupsService, "connect", baseUrl, { token: user.accessToken }),
  };
}

export function identityOf(baseUrl: string, user: Pick<Participant, "accessToken">): Client<typeof IdentityService> {
  return identityClient("connect", baseUrl, { token: user.accessToken });
}

/** Turns presence sharing on or off (IdentityService.UpdateProfile, update_paths ["share_presence"]). */
export async function setSharePresence(baseUrl: string, user: Participant, sharePresence: boolean): Promise<void> {
  await identityOf(baseUrl, user).updateProfile({ updatePaths: ["share_presence"], sharePresence });
}

/** `count` messages from `from` to `to`, `concurrency` at a time; resolves with their message ids. */
export async function sendMany(from: Participant, to: Participant, count: number, concurrency = 8, payloadBytes = 64): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        ids.push((await sendTo(from, to, randomPayload(payloadBytes))).messageId);
      }
    }),
  );
  return ids;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true (or fails after `timeoutMs`). */
export async function eventually(probe: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
