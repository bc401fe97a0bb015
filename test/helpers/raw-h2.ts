import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { type ServerFrame, SubscribeResponseSchema } from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";

/** One HTTP/2 call as the wire shows it: headers, enveloped messages, trailers, how it closed. */
export interface RawCall {
  headers: Promise<http2.IncomingHttpHeaders>;
  /** Resolves when the call closed. */
  closed: Promise<{ rstCode: number; trailers: http2.IncomingHttpHeaders }>;
  /** Envelopes received so far. */
  envelopes: { flags: number; data: Buffer }[];
  /** Server frames among them (flags 0), decoded. */
  frames(): ServerFrame[];
  isClosed(): boolean;
  write(bytes: Buffer): void;
  end(bytes?: Buffer): void;
  cancel(): void;
}

/** Envelope: flags, 4-byte length, data. */
export function enveloped(data: Uint8Array, flags = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flags;
  prefix.writeUInt32BE(data.length, 1);
  return Buffer.concat([prefix, data]);
}

/** A POST on its own HTTP/2 connection, read without any RPC library. */
export function rawCall(baseUrl: string, path: string, headers: Record<string, string>): RawCall {
  const session = http2.connect(baseUrl);
  session.on("error", () => undefined);
  const req = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
  req.on("error", () => undefined);
  const envelopes: { flags: number; data: Buffer }[] = [];
  let pending = Buffer.alloc(0);
  let closed = false;
  let trailers: http2.IncomingHttpHeaders = {};
  req.on("trailers", (t) => (trailers = t));
  req.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      envelopes.push({ flags: pending[0]!, data: pending.subarray(5, 5 + length) });
      pending = pending.subarray(5 + length);
    }
  });
  const headersPromise = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve));
  const closedPromise = new Promise<{ rstCode: number; trailers: http2.IncomingHttpHeaders }>((resolve) =>
    req.once("close", () => {
      closed = true;
      session.close();
      resolve({ rstCode: req.rstCode ?? 0, trailers });
    }),
  );
  return {
    headers: headersPromise,
    closed: closedPromise,
    envelopes,
    frames: () => envelopes.filter((e) => e.flags === 0).map((e) => fromBinary(SubscribeResponseSchema, e.data).frame!),
    isClosed: () => closed,
    write: (bytes) => req.write(bytes),
    end: (bytes) => (bytes ? req.end(bytes) : req.end()),
    cancel: () => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      session.close();
    },
  };
}
