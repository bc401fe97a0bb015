/**
 * Bench-only experiment: serves connect-es ServiceImpl objects on a @grpc/grpc-js Server
 * (gRPC protocol only), so that the benchmark can compare it with connect-node on the
 * same handlers. Not used by the production server (src/main.ts).
 */
import { setMaxListeners } from "node:events";
import { create, fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Caller } from "../../identity/tokens.js";
import { callerKey } from "../../rpc/caller.js";
import { toConnectError } from "../../rpc/errors.js";
import { callerOf, type PublicMethods } from "../../rpc/interceptors.js";

export interface AdapterOptions {
  log: Logger;
  publicMethods: PublicMethods;
  verify: (token: string) => Promise<Caller>;
  /** Aborted on shutdown: every handler's context.signal follows it. */
  shutdownSignal: AbortSignal;
}

// The handlers are called generically: request and response types are the method's.
type AnyImpl = (input: unknown, context: HandlerContext) => unknown;
type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** Registers every method of `service` (unary, server-streaming, bidi) on `server`. */
export function addConnectService<S extends DescService>(server: grpc.Server, service: S, impl: ServiceImpl<S>, options: AdapterOptions): void {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn = (impl as unknown as Record<string, AnyImpl>)[method.localName];
    if (!fn) continue;
    const call = fn.bind(impl);
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: (m: unknown) => Buffer.from(toBinary(method.input, m as never)),
      requestDeserialize: (b: Buffer) => fromBinary(method.input, b),
      responseSerialize: (m: unknown) => Buffer.from(toBinary(method.output, create(method.output, m as never))),
      responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
      originalName: method.localName,
    };
    switch (method.methodKind) {
      case "unary":
        handlers[method.name] = unaryHandler(service, method, call, options);
        break;
      case "server_streaming":
        handlers[method.name] = streamingHandler(service, method, call, options, (c) => (c as grpc.ServerWritableStream<unknown, unknown>).request);
        break;
      case "bidi_streaming":
        handlers[method.name] = streamingHandler(service, method, call, options, (c) => c as grpc.ServerDuplexStream<unknown, unknown>);
        break;
      default:
        throw new Error(`${service.typeName}/${method.name}: ${method.methodKind} is not supported by this adapter`);
    }
  }
  server.addService(definition, handlers);
}

function unaryHandler(service: DescService, method: DescMethod, impl: AnyImpl, options: AdapterOptions): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const started = performance.now();
    const context = handlerContext(service, method, call, options);
    void (async () => {
      try {
        await authenticate(service, method, context, options);
        const output = await impl(call.request, context);
        sendHeaderIfAny(call, context);
        callback(null, output, toMetadata(context.responseTrailer));
        logCall(options.log, service, method, started);
      } catch (error) {
        callback(toStatus(error, service, method, context, options, started));
      } finally {
        context.abort();
      }
    })();
  };
}

function streamingHandler(
  service: DescService,
  method: DescMethod,
  impl: AnyImpl,
  options: AdapterOptions,
  input: (call: AnyCall) => unknown,
): grpc.handleServerStreamingCall<unknown, unknown> {
  return (rawCall) => {
    const call = rawCall as grpc.ServerWritableStream<unknown, unknown>;
    const started = performance.now();
    const context = handlerContext(service, method, call, options);
    void (async () => {
      try {
        await authenticate(service, method, context, options);
        // Response headers are set before the first message is yielded, if at all.
        let headerChecked = false;
        for await (const output of impl(input(call), context) as AsyncIterable<unknown>) {
          if (!headerChecked) headerChecked = (sendHeaderIfAny(call, context), true);
          if (call.cancelled) break;
          // Backpressure: wait until grpc-js has flushed before taking the next frame.
          if (!call.write(output)) await drained(call, context.signal);
        }
        if (!call.cancelled) {
          if (!headerChecked) sendHeaderIfAny(call, context);
          call.end(toMetadata(context.responseTrailer));
        }
        logCall(options.log, service, method, started);
      } catch (error) {
        const status = toStatus(error, service, method, context, options, started);
        if (!call.cancelled) call.emit("error", status);
      } finally {
        context.abort();
      }
    })();
  };
}

function handlerContext(service: DescService, method: DescMethod, call: AnyCall, options: AdapterOptions) {
  const requestSignal = new AbortController();
  setMaxListeners(0, requestSignal.signal);
  (call as NodeJS.EventEmitter).once("cancelled", () => requestSignal.abort(new ConnectError("request canceled by the client", Code.Canceled)));
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const timeoutMs = Number.isFinite(deadlineMs) ? Math.max(0, deadlineMs - Date.now()) : undefined;
  return createHandlerContext({
    service,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: call.getPath(),
    timeoutMs,
    shutdownSignal: options.shutdownSignal,
    requestSignal: requestSignal.signal,
    requestHeader: toHeaders(call.metadata),
    contextValues: createContextValues(),
  });
}

async function authenticate(service: DescService, method: DescMethod, context: HandlerContext, options: AdapterOptions): Promise<void> {
  const caller = await callerOf(options.publicMethods, options.verify, service.typeName, method.name, context.requestHeader.get("authorization"));
  if (caller) context.values.set(callerKey, caller);
}

/** The same mapping and logging as the connect server's `observe` interceptor; ConnectError codes are gRPC status codes. */
function toStatus(error: unknown, service: DescService, method: DescMethod, context: HandlerContext, options: AdapterOptions, started: number): grpc.StatusObject {
  const name = `${service.typeName}/${method.name}`;
  const mapped = toConnectError(error, options.log, name);
  const level = mapped.code === Code.Internal || mapped.code === Code.Unknown ? "error" : "info";
  options.log[level]({ method: name, code: Code[mapped.code], durationMs: elapsed(started) }, "rpc");
  const metadata = toMetadata(context.responseTrailer);
  mapped.metadata.forEach((value, key) => metadata.add(key, value));
  return { code: mapped.code as number as grpc.status, details: mapped.rawMessage, metadata };
}

function logCall(log: Logger, service: DescService, method: DescMethod, started: number): void {
  log.info({ method: `${service.typeName}/${method.name}`, code: "OK", durationMs: elapsed(started) }, "rpc");
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 10) / 10;

function toHeaders(metadata: grpc.Metadata): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(metadata.getMap())) {
    headers.set(key, typeof value === "string" ? value : value.toString("base64"));
  }
  return headers;
}

function toMetadata(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => metadata.add(key, value));
  return metadata;
}

/** Sends response headers the handler set, if any. */
function sendHeaderIfAny(call: AnyCall, context: HandlerContext): void {
  let any = false;
  context.responseHeader.forEach(() => (any = true));
  if (any) call.sendMetadata(toMetadata(context.responseHeader));
}

function drained(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
