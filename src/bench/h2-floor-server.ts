/**
 * The bare node:http2 server of the memory floor (src/bench/h2-floor.ts): no Cyphr code. Each
 * stream is answered as the realtime fast path answers a `Connect` call (response headers, one
 * small gRPC message, the request read as it arrives) and then held open doing nothing.
 * Started by h2-floor.ts with an IPC channel; the options come as JSON in argv[2].
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";

export interface FloorServerOptions {
  http2: http2.ServerOptions;
  /** Hold what the fast path holds per stream beyond Node's own objects: the headers, a timer, an AbortController. */
  cyphrLike?: boolean;
}

const options = JSON.parse(process.argv[2] ?? "{}") as FloorServerOptions;
const held = new Set<unknown>();
const server = http2.createServer(options.http2);
server.on("stream", (stream, headers) => {
  stream.on("error", () => undefined);
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto", "grpc-accept-encoding": "identity" });
  stream.write(Buffer.from([0, 0, 0, 0, 6, 0x0a, 0x04, 0x08, 0x01, 0x10, 0x01]));
  stream.on("data", () => undefined);
  if (options.cyphrLike) {
    const state = { headers, timer: setInterval(() => undefined, 25_000).unref(), call: new AbortController() };
    held.add(state);
    stream.once("close", () => {
      clearInterval(state.timer);
      held.delete(state);
    });
  }
});
server.listen(0, "127.0.0.1", () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
process.on("message", (msg: { probe?: string }) => {
  if (msg.probe !== "stats") return;
  globalThis.gc?.();
  globalThis.gc?.();
  process.send!({ memory: process.memoryUsage() });
});
