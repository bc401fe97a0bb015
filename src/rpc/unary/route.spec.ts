import { createConnectRouter } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { recordingUnaryMethods, type UnaryMethodSpec } from "./methods.js";
import { unaryRouteOf } from "./route.js";

const methods = new Map<string, UnaryMethodSpec>();
recordingUnaryMethods(createConnectRouter(), methods).service(Health, {});
const CHECK = "/grpc.health.v1.Health/Check";
const request = (headers: Record<string, string>) => ({ ":method": "POST", ":path": CHECK, ":authority": "localhost", ...headers });

describe("unaryRouteOf", () => {
  it("records the unary methods of a registered service, not its streaming ones", () => {
    expect([...methods.keys()]).toEqual([CHECK, "/grpc.health.v1.Health/List"]);
  });

  it.each([
    ["application/grpc", "grpc"],
    ["application/grpc+proto", "grpc"],
    ["application/grpc-web", "grpc-web"],
    ["application/grpc-web+proto", "grpc-web"],
    ["application/proto", "connect"],
    ["Application/Proto", "connect"],
  ])("takes a binary call (%s) as %s", (contentType, protocol) => {
    expect(unaryRouteOf(methods, request({ "content-type": contentType }))?.protocol).toBe(protocol);
  });

  it.each([
    ["JSON", { "content-type": "application/json" }],
    ["gRPC JSON", { "content-type": "application/grpc+json" }],
    ["gRPC-Web text", { "content-type": "application/grpc-web-text" }],
    ["a Connect stream", { "content-type": "application/connect+proto" }],
    ["a content type with parameters", { "content-type": "application/grpc; charset=utf-8" }],
    ["a gzip-compressed gRPC request", { "content-type": "application/grpc", "grpc-encoding": "gzip" }],
    ["a gzip-compressed Connect request", { "content-type": "application/proto", "content-encoding": "gzip" }],
    ["a GET", { "content-type": "application/proto", ":method": "GET" }],
    ["an unknown method", { "content-type": "application/grpc", ":path": "/grpc.health.v1.Health/Nope" }],
    ["a streaming method", { "content-type": "application/grpc", ":path": "/grpc.health.v1.Health/Watch" }],
  ])("leaves %s to connect-es", (_name, headers) => {
    expect(unaryRouteOf(methods, request(headers))).toBeUndefined();
  });

  it("leaves a request without :authority to connect-es (which answers it 400)", () => {
    const { ":authority": _, ...headers } = request({ "content-type": "application/grpc" });
    expect(unaryRouteOf(methods, headers)).toBeUndefined();
  });

  it("takes identity encoding as uncompressed", () => {
    expect(unaryRouteOf(methods, request({ "content-type": "application/grpc", "grpc-encoding": "identity" }))?.protocol).toBe("grpc");
  });
});
