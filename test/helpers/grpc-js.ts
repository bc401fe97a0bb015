import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/**
 * Clients built the way grpcurl and other non-Connect tools build them: @grpc/grpc-js
 * with descriptors from @grpc/proto-loader, independent of the server's generated code.
 */

const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));

/** Plain-object messages as proto-loader decodes them: snake_case fields, oneof case in a property. */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client;

/** A grpc-js client constructor for `serviceName` from a vendored .proto under proto/. */
export function grpcJsClientConstructor(protoFile: string, serviceName: string): ClientConstructor {
  const definition = protoLoader.loadSync(protoFile, { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
  return lookupService(grpc.loadPackageDefinition(definition), serviceName);
}

/** Finds `a.b.C` in an object from grpc.loadPackageDefinition. */
export function lookupService(root: grpc.GrpcObject, serviceName: string): ClientConstructor {
  let node: unknown = root;
  for (const part of serviceName.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== "function") throw new Error(`service ${serviceName} not in the package definition`);
  return node as ClientConstructor;
}

/** "127.0.0.1:<port>" from "http://127.0.0.1:<port>". */
export function grpcAddress(baseUrl: string): string {
  return new URL(baseUrl).host;
}

/** Calls a unary method and resolves with the response, or rejects with the grpc-js ServiceError. */
export function unary<Res>(client: grpc.Client, method: string, request: object, metadata = new grpc.Metadata()): Promise<Res> {
  const call = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
  if (!call) throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    call.call(client, request, metadata, { deadline: Date.now() + 10_000 }, (error: grpc.ServiceError | null, response: Res) =>
      error ? reject(error) : resolve(response),
    );
  });
}

export interface ReflectionResponse {
  valid_host: string;
  original_request: Record<string, unknown> | null;
  message_response: "file_descriptor_response" | "all_extension_numbers_response" | "list_services_response" | "error_response";
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: { name: string }[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  error_response?: { error_code: number; error_message: string };
}

/** One open ServerReflectionInfo stream: each `ask` sends a request and waits for its answer. */
export interface ReflectionStream {
  ask(request: Record<string, unknown>): Promise<ReflectionResponse>;
  /** Half-closes the stream and resolves with its final status. */
  end(): Promise<grpc.StatusObject>;
  close(): void;
}

export function openReflection(version: "v1" | "v1alpha", baseUrl: string): ReflectionStream {
  const Client = grpcJsClientConstructor(`grpc/reflection/${version}/reflection.proto`, `grpc.reflection.${version}.ServerReflection`);
  const client = new Client(grpcAddress(baseUrl), grpc.credentials.createInsecure());
  const call = (client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }).ServerReflectionInfo();
  const pending: { resolve(r: ReflectionResponse): void; reject(e: Error): void }[] = [];
  let failure: Error | undefined;
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("data", (response: ReflectionResponse) => pending.shift()?.resolve(response));
  call.on("error", (error: Error) => {
    failure = error;
    for (const p of pending.splice(0)) p.reject(error);
  });
  return {
    ask(request) {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        call.write(request);
      });
    },
    async end() {
      call.end();
      const result = await status;
      client.close();
      return result;
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}
