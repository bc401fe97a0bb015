import { fileURLToPath } from "node:url";
import { create, fromJson, toJson, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GroupsService } from "../../src/gen/cyphr/groups/v1/groups_pb.js";
import { IdentityService } from "../../src/gen/cyphr/identity/v1/identity_pb.js";
import { MessagingService } from "../../src/gen/cyphr/messaging/v1/messaging_pb.js";
import {
  ClientFrameSchema,
  ConnectRequestSchema,
  RealtimeService,
  ServerFrameSchema,
  type ConnectRequest,
} from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { clientFor, identityClient, transportFor, type Protocol } from "./clients.js";
import { grpcAddress, lookupService } from "./grpc-js.js";
import { Inbox, type StreamStatus } from "./inbox.js";
import type { Participant } from "./messaging.js";
import { loginUser } from "./users.js";

export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;

interface StreamIo {
  send(frame: ClientFrameInit): void;
  halfClose(): void;
  cancel(): void;
  pause?(): void;
  resume?(): void;
}

/** An open realtime stream: the frames it received (see Inbox) and its client side. */
export class RealtimeStream extends Inbox {
  constructor(
    readonly wire: string,
    private readonly io: StreamIo,
  ) {
    super();
    open.add(this);
    void this.ended.then(() => open.delete(this));
  }

  /** Sends one client frame (bidi streams only). */
  send(frame: ClientFrameInit): void {
    this.io.send(frame);
  }

  ack(cursor: number | bigint): void {
    this.send({ frame: { case: "ack", value: { cursor: BigInt(cursor) } } });
  }

  heartbeat(): void {
    this.send({ frame: { case: "heartbeat", value: {} } });
  }

  typing(chatId: string, typing: boolean): void {
    this.send({ frame: { case: "typing", value: { chatId, typing } } });
  }

  /** Closes the client's sending side; the server keeps streaming. */
  halfClose(): void {
    this.io.halfClose();
  }

  /** Cancels the call, as a client that goes away does. */
  close(): void {
    this.io.cancel();
  }

  /** Stops reading (grpc-js only): the transport stops granting HTTP/2 flow-control credit. */
  pause(): void {
    if (!this.io.pause) throw new Error(`${this.wire} cannot pause`);
    this.io.pause();
  }

  resume(): void {
    this.io.resume?.();
  }

  /** Waits for the end of the backlog replay and returns its cursor. */
  async caughtUp(timeoutMs = 10_000): Promise<number> {
    const { value } = await this.take("caughtUp", undefined, timeoutMs);
    return Number(value.cursor);
  }
}

const open = new Set<RealtimeStream>();

/** Cancels every stream still open (call in afterEach). */
export async function closeAllStreams(): Promise<void> {
  const streams = [...open];
  for (const stream of streams) stream.close();
  await Promise.all(streams.map((s) => s.ended));
}

export interface HelloOptions {
  /** Hello.resume_cursor; unset: the session's stored ack. */
  resumeCursor?: number | bigint;
  /** Send no hello (the first frame is then whatever the test sends). */
  noHello?: boolean;
}

function helloFrame(options: HelloOptions): ClientFrameInit {
  const resumeCursor = options.resumeCursor === undefined ? undefined : BigInt(options.resumeCursor);
  return { frame: { case: "hello", value: { resumeCursor } } };
}

// ---------------------------------------------------------------------------------------
// @grpc/grpc-js with descriptors from proto/ (no code shared with the server)

const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));
/** Decoded as close to proto JSON as proto-loader goes: proto field names, strings for 64-bit ints, enums and bytes. */
const REALTIME_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
  includeDirs: [PROTO_ROOT],
};
const TIMESTAMP_FIELDS = new Set(["time", "created_at", "edited_at", "deleted_at", "expires_at", "last_seen", "server_time"]);

type GrpcJsConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;
let realtimeConstructor: GrpcJsConstructor | undefined;

/** A grpc-js RealtimeService client on a connection of its own. */
export function grpcJsRealtimeClient(baseUrl: string): grpc.Client {
  realtimeConstructor ??= lookupService(
    grpc.loadPackageDefinition(protoLoader.loadSync("cyphr/realtime/v1/realtime.proto", REALTIME_LOADER_OPTIONS)),
    "cyphr.realtime.v1.RealtimeService",
  ) as GrpcJsConstructor;
  return new realtimeConstructor(grpcAddress(baseUrl), grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
}

/** A frame as proto-loader decoded it, read into the generated type (timestamps rewritten to proto JSON). */
export function frameFromGrpcJs(decoded: unknown): ReturnType<typeof fromJson<typeof ServerFrameSchema>> {
  return fromJson(ServerFrameSchema, protoJson(decoded) as JsonValue, { ignoreUnknownFields: true });
}

function protoJson(value: unknown, key = ""): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => protoJson(v));
  if (TIMESTAMP_FIELDS.has(key)) {
    const { seconds = "0", nanos = 0 } = value as { seconds?: string; nanos?: number };
    return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, "0")}Z`;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, protoJson(v, k)]));
}

/** A client frame as proto-loader takes it (proto JSON with proto field names). */
function frameForGrpcJs(frame: ClientFrameInit): unknown {
  return toJson(ConnectRequestSchema, create(ConnectRequestSchema, { frame }), { useProtoFieldName: true });
}

/** Opens RealtimeService.Connect through @grpc/grpc-js and sends the hello. */
export function grpcJsConnect(baseUrl: string, token: string | undefined, options: HelloOptions = {}): RealtimeStream {
  const client = grpcJsRealtimeClient(baseUrl);
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  const call = (client as unknown as { Connect(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, { frame?: unknown }> }).Connect(metadata);
  const stream = new RealtimeStream("grpc-js Connect", {
    send: (frame) => call.write(frameForGrpcJs(frame)),
    halfClose: () => call.end(),
    cancel: () => call.cancel(),
    pause: () => call.pause(),
    resume: () => call.resume(),
  });
  call.on("data", (res: { frame?: unknown }) => stream.push(frameFromGrpcJs(res.frame ?? {})));
  call.on("error", () => undefined); // reported through "status"
  call.on("status", (status: grpc.StatusObject) => {
    stream.finish({ code: status.code as number as Code, message: status.details });
    client.close();
  });
  if (!options.noHello) stream.send(helloFrame(options));
  return stream;
}

// ---------------------------------------------------------------------------------------
// Connect-ES clients (Connect, gRPC, gRPC-Web transports)

/** An async iterable of requests the test writes into. */
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

/** The same user signed in on another device: a second session with clients of its own. */
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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true (or fails after `timeoutMs`). */
export async function eventually(probe: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export { Code };
