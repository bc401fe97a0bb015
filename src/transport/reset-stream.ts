import type http2 from "node:http2";

/**
 * Resets an HTTP/2 stream with RST_STREAM `code` and destroys it: its pending writes fail
 * with ERR_STREAM_DESTROYED (what a client hanging up causes), so whoever was writing treats
 * the call as hung up rather than as failed, and the memory it held is released.
 */
export function resetHttp2Stream(stream: http2.Http2Stream, code: number, why: string): void {
  if (stream.destroyed) return;
  if (!stream.closed) stream.close(code);
  stream.destroy(Object.assign(new Error(why), { code: "ERR_STREAM_DESTROYED" }));
}
