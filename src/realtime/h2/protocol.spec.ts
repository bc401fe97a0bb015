import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { StreamResponder } from "./protocol.js";

let server: http2.Http2Server | undefined;
let client: http2.ClientHttp2Session | undefined;
afterEach(async () => {
  client?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

/** One real HTTP/2 exchange: the server answers through a StreamResponder; what each side saw. */
async function exchange(): Promise<{ sentHeaders: unknown; received: http2.IncomingHttpHeaders; body: Buffer }> {
  let sentHeaders: unknown = "not answered";
  server = http2.createServer();
  server.on("stream", (stream) => {
    const responder = new StreamResponder(stream, "grpc-web");
    responder.write(new Uint8Array([1, 2, 3]));
    sentHeaders = stream.sentHeaders;
    responder.finish(undefined);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const req = client.request({ ":path": "/x", ":method": "POST", "content-type": "application/grpc-web+proto" });
  req.end();
  const received = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve));
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return { sentHeaders, received, body: Buffer.concat(chunks) };
}

describe("StreamResponder", () => {
  it("answers with its status and content type, and does not keep the sent headers on the open stream (~0.3 KB each)", async () => {
    const { sentHeaders, received, body } = await exchange();
    expect(received[":status"]).toBe(200);
    expect(received["content-type"]).toBe("application/grpc-web+proto");
    expect(body.subarray(0, 8)).toEqual(Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]));
    expect(sentHeaders).toBeUndefined();
  });
});
