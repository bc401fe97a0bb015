import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVED_SERVICES } from "../src/app.js";
import { grpcAddress, LOADER_OPTIONS, lookupService, openReflection, type ReflectionResponse, type ReflectionStream, unary } from "./helpers/grpc-js.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Server reflection as grpcurl uses it: a grpc-js client over HTTP/2, descriptors as
 * serialized FileDescriptorProtos, and nothing of the identity API known in advance.
 */

const IDENTITY_SERVICE = "cyphr.identity.v1.IdentityService";
const IDENTITY_FILE = "cyphr/identity/v1/identity.proto";
const TIMESTAMP_FILE = "google/protobuf/timestamp.proto";
/** Services every build serves; domains add theirs to SERVED_SERVICES in src/app.ts. */
const PLATFORM = [IDENTITY_SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];
const NOT_FOUND = 5;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

function fileNames(response: ReflectionResponse): string[] {
  return descriptors(response).map((file) => file.name);
}

function descriptors(response: ReflectionResponse): FileDescriptorProto[] {
  expect(response.message_response, JSON.stringify(response.error_response)).toBe("file_descriptor_response");
  return response.file_descriptor_response!.file_descriptor_proto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

describe.each(["v1", "v1alpha"] as const)("grpc.reflection.%s over grpc-js", (version) => {
  let reflection: ReflectionStream;
  beforeAll(() => {
    reflection = openReflection(version, server.baseUrl);
  });
  afterAll(() => reflection.close());

  it("list_services returns exactly the served services", async () => {
    const response = await reflection.ask({ host: "", list_services: "*" });
    expect(response.message_response).toBe("list_services_response");
    const names = response.list_services_response!.service.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(PLATFORM));
    expect([...names].sort()).toEqual([...SERVED_SERVICES].sort());
  });

  it("describes every listed service, and each one answers on this server", async () => {
    const listed = (await reflection.ask({ list_services: "" })).list_services_response!.service.map((s) => s.name);
    for (const name of listed) {
      const [file] = descriptors(await reflection.ask({ file_containing_symbol: name }));
      const service = file!.service.find((s) => `${file!.package}.${s.name}` === name);
      expect(service, name).toBeDefined();
      // Unknown routes are 404; a served one answers (here: with a protocol error for an empty GET).
      const res = await fetch(`${server.baseUrl}/${name}/${service!.method[0]!.name}`);
      expect(res.status, name).not.toBe(404);
    }
  });

  it("echoes the original request and host in each response", async () => {
    const response = await reflection.ask({ host: "example", list_services: "" });
    expect(response.valid_host).toBe("example");
    expect(response.original_request).toMatchObject({ host: "example", list_services: "" });
  });

  it("file_containing_symbol for the identity service returns its file first, then google/protobuf/timestamp.proto", async () => {
    const files = descriptors(await reflection.ask({ file_containing_symbol: IDENTITY_SERVICE }));
    expect(files.map((f) => f.name)).toEqual([IDENTITY_FILE, TIMESTAMP_FILE]);
    const identity = files[0]!;
    expect(identity.package).toBe("cyphr.identity.v1");
    expect(identity.dependency).toEqual([TIMESTAMP_FILE]);
    expect(identity.service.map((s) => s.name)).toEqual(["IdentityService"]);
    expect(identity.service[0]!.method.map((m) => m.name)).toContain("CheckAvailability");
  });

  it("file_by_filename returns the named file with its imports", async () => {
    expect(fileNames(await reflection.ask({ file_by_filename: IDENTITY_FILE }))).toEqual([IDENTITY_FILE, TIMESTAMP_FILE]);
    expect(fileNames(await reflection.ask({ file_by_filename: TIMESTAMP_FILE }))).toEqual([TIMESTAMP_FILE]);
    expect(fileNames(await reflection.ask({ file_by_filename: "grpc/health/v1/health.proto" }))).toEqual(["grpc/health/v1/health.proto"]);
  });

  it("file_containing_symbol resolves methods, messages, nested enums and enum values", async () => {
    const symbols: Record<string, string> = {
      "cyphr.identity.v1.IdentityService.Register": IDENTITY_FILE,
      "cyphr.identity.v1.RegisterRequest": IDENTITY_FILE,
      ".cyphr.identity.v1.Profile": IDENTITY_FILE,
      "cyphr.identity.v1.UnavailableReason": IDENTITY_FILE,
      // Enum values live in the scope enclosing their enum.
      "cyphr.identity.v1.UNAVAILABLE_REASON_TAKEN": IDENTITY_FILE,
      "grpc.health.v1.HealthCheckResponse.ServingStatus": "grpc/health/v1/health.proto",
      "grpc.health.v1.HealthCheckResponse.SERVING": "grpc/health/v1/health.proto",
      "google.protobuf.Timestamp": TIMESTAMP_FILE,
    };
    for (const [symbol, file] of Object.entries(symbols)) {
      expect(fileNames(await reflection.ask({ file_containing_symbol: symbol }))[0], symbol).toBe(file);
    }
  });

  it("an unknown symbol or file gives error_response NOT_FOUND and the stream keeps answering", async () => {
    const unknownSymbol = await reflection.ask({ file_containing_symbol: "cyphr.identity.v1.NoSuchThing" });
    expect(unknownSymbol.message_response).toBe("error_response");
    expect(unknownSymbol.error_response!.error_code).toBe(NOT_FOUND);
    expect(unknownSymbol.error_response!.error_message).toContain("cyphr.identity.v1.NoSuchThing");

    const unknownFile = await reflection.ask({ file_by_filename: "cyphr/nothing/v1/nothing.proto" });
    expect(unknownFile.message_response).toBe("error_response");
    expect(unknownFile.error_response!.error_code).toBe(NOT_FOUND);

    const after = await reflection.ask({ list_services: "" });
    expect(after.list_services_response!.service.length).toBe(SERVED_SERVICES.length);
  });

  it("a half-closed stream ends with status OK", async () => {
    const stream = openReflection(version, server.baseUrl);
    await stream.ask({ list_services: "" });
    expect((await stream.end()).code).toBe(grpc.status.OK);
  });

  it("supports the grpcurl flow: descriptors from reflection alone are enough to call CheckAvailability", async () => {
    // grpcurl: list services, fetch the file defining the service, fetch missing imports.
    const listed = await reflection.ask({ list_services: "" });
    const service = listed.list_services_response!.service.map((s) => s.name).find((name) => name === IDENTITY_SERVICE)!;
    const files = new Map<string, FileDescriptorProto>();
    const queue = descriptors(await reflection.ask({ file_containing_symbol: service }));
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (files.has(file.name)) continue;
      files.set(file.name, file);
      for (const dependency of file.dependency) {
        if (!files.has(dependency)) queue.push(...descriptors(await reflection.ask({ file_by_filename: dependency })));
      }
    }
    const set = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [...files.values()] }));
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(set), LOADER_OPTIONS);
    const Client = lookupService(grpc.loadPackageDefinition(definition), service);
    const client = new Client(grpcAddress(server.baseUrl), grpc.credentials.createInsecure());
    try {
      expect(await unary(client, "CheckAvailability", { cyphr_id: "free_name_for_grpcurl" })).toEqual({
        available: true,
        reason: "UNAVAILABLE_REASON_UNSPECIFIED",
      });
      expect(await unary(client, "CheckAvailability", { cyphr_id: "NO" })).toEqual({
        available: false,
        reason: "UNAVAILABLE_REASON_INVALID_FORMAT",
      });
    } finally {
      client.close();
    }
  });
});
