import http from "node:http";
import http2 from "node:http2";

/**
 * Requests written byte by byte, for what no well-behaved client sends: bodies that do not
 * decode, lying Content-Length headers, deadlines past 2^31 ms. Each answer is read whole,
 * with whatever status it carries (HTTP status, grpc-status in headers or trailers, a
 * gRPC-Web trailer frame, a Connect error body or end-stream frame).
 */
export interface RawAnswer {
  httpStatus: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The RST_STREAM code when the server reset the stream (HTTP/2). */
  rstCode?: number;
  /** The client gave up waiting (`cancelAfterMs`) and canceled the stream. */
  canceledByClient?: boolean;
}

/** A gRPC / gRPC-Web / Connect envelope. */
export function envelope(data: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

export interface H2Request {
  path: string;
  headers?: Record<string, string>;
  /** Chunks written in order; the request ends after the last one unless `keepOpen`. */
  body?: Uint8Array[];
  keepOpen?: boolean;
  method?: string;
  /** Cancels the stream (RST_STREAM CANCEL) if the server has not ended it by then. */
  cancelAfterMs?: number;
}

/** One request on its own HTTP/2 connection. */
export function h2Request(baseUrl: string, request: H2Request): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":method": request.method ?? "POST", ":path": request.path, ...request.headers });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    // The server answered in full: a request kept open ends too.
    stream.on("end", () => stream.end());
    stream.on("error", () => {});
    let canceledByClient = false;
    const cancel =
      request.cancelAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            canceledByClient = true;
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }, request.cancelAfterMs);
    stream.on("close", () => {
      clearTimeout(cancel);
      session.close();
      const rstCode = canceledByClient ? undefined : stream.rstCode || undefined;
      resolve({ httpStatus: Number(headers[":status"] ?? 0), headers, trailers, body: Buffer.concat(chunks), rstCode, canceledByClient });
    });
    for (const chunk of request.body ?? []) stream.write(chunk);
    if (!request.keepOpen) stream.end();
  });
}

export interface H1Request {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

/** One HTTP/1.1 request on its own connection. */
export function h1Request(port: number, request: H1Request): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: request.method ?? "POST", path: request.path, headers: request.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ httpStatus: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(request.body);
  });
}

/** grpc-status and grpc-message of an answer, from headers, trailers or a gRPC-Web trailer frame. */
export function grpcStatus(answer: RawAnswer): { code: number; message: string } | undefined {
  const fields: Record<string, string | string[] | undefined> = { ...answer.headers, ...answer.trailers };
  let offset = 0;
  while (offset + 5 <= answer.body.length) {
    const flags = answer.body[offset]!;
    const length = answer.body.readUInt32BE(offset + 1);
    if (flags & 0x80) {
      for (const line of answer.body
        .subarray(offset + 5, offset + 5 + length)
        .toString("latin1")
        .split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    offset += 5 + length;
  }
  if (fields["grpc-status"] === undefined) return undefined;
  return { code: Number(fields["grpc-status"]), message: decodeURIComponent(String(fields["grpc-message"] ?? "")) };
}

/** The error of a Connect answer: a unary error body, or the end-stream frame of a stream. */
export function connectError(answer: RawAnswer): { code: string; message: string } | undefined {
  const contentType = String(answer.headers["content-type"] ?? "");
  if (contentType.startsWith("application/json")) {
    const body = JSON.parse(answer.body.toString("utf8")) as { code?: string; message?: string };
    return body.code === undefined ? undefined : { code: body.code, message: body.message ?? "" };
  }
  let offset = 0;
  while (offset + 5 <= answer.body.length) {
    const flags = answer.body[offset]!;
    const length = answer.body.readUInt32BE(offset + 1);
    if (flags & 0x02) {
      const end = JSON.parse(answer.body.subarray(offset + 5, offset + 5 + length).toString("utf8")) as { error?: { code: string; message?: string } };
      return end.error && { code: end.error.code, message: end.error.message ?? "" };
    }
    offset += 5 + length;
  }
  return undefined;
}
