import { fileURLToPath } from "node:url";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ConnectRequestSchema, type ServerFrame, ServerFrameSchema } from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { grpcAddress, lookupService } from "./grpc-js.js";
import { type ClientFrameInit, type HelloOptions, helloFrame, RealtimeStream } from "./realtime-stream.js";

/**
 * RealtimeService through @grpc/grpc-js with descriptors loaded from proto/ by
 * @grpc/proto-loader: a native client that shares no code with the server. Frames are
 * decoded by protobufjs, then read into the generated types so tests can treat every
 * client alike.
 */

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
export function frameFromGrpcJs(decoded: unknown): ServerFrame {
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
  return stream.keepAlive(options.heartbeatEveryMs);
}
