import type http2 from "node:http2";

/** HTTP/2 PING (and TCP keepalive) interval: finds clients that vanished without closing. */
export const KEEPALIVE_MS = 30_000;
const PING_TIMEOUT_MS = 20_000;

/** Pings the client every KEEPALIVE_MS; a session that does not answer in time is destroyed, ending its streams. */
export function keepAlive(session: http2.ServerHttp2Session): NodeJS.Timeout {
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return;
    const deadline = setTimeout(() => session.destroy(), PING_TIMEOUT_MS);
    deadline.unref();
    try {
      session.ping((err) => {
        clearTimeout(deadline);
        if (err && !session.destroyed) session.destroy();
      });
    } catch {
      clearTimeout(deadline);
    }
  }, KEEPALIVE_MS);
  timer.unref();
  return timer;
}
