import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Config } from "./config.js";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** HTTP/2 PING (and TCP keepalive) interval: finds clients that vanished without closing. */
const KEEPALIVE_MS = 30_000;
const PING_TIMEOUT_MS = 20_000;

/** Pings the client every KEEPALIVE_MS; a session that does not answer in time is destroyed, ending its streams. */
function keepAlive(session: http2.ServerHttp2Session): NodeJS.Timeout {
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

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface Listener {
  server: net.Server;
  /** HTTP/2 sessions currently open (for GOAWAY on shutdown). */
  sessions: Set<http2.ServerHttp2Session>;
  /** Every open TCP connection. */
  sockets: Set<net.Socket>;
}

/**
 * One port for every protocol. With TLS, ALPN picks HTTP/2 or HTTP/1.1 and only TLS 1.3
 * is accepted. Without TLS (h2c, behind Envoy), Node's HTTP/2 server cannot fall back to
 * HTTP/1.1, so the first bytes of each connection decide: the HTTP/2 preface goes to the
 * HTTP/2 server (gRPC, Connect, gRPC-Web over h2c), anything else to the HTTP/1.1 server
 * (gRPC-Web and Connect from browsers, curl).
 */
export function createListener(tls: Config["tls"], handler: Handler): Listener {
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    socket.setKeepAlive(true, KEEPALIVE_MS);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const trackSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    const pinger = keepAlive(session);
    session.once("close", () => {
      clearInterval(pinger);
      sessions.delete(session);
    });
  };

  if (tls) {
    const server = http2.createSecureServer(
      {
        allowHTTP1: true,
        cert: fs.readFileSync(tls.certFile),
        key: fs.readFileSync(tls.keyFile),
        minVersion: "TLSv1.3",
      },
      handler,
    );
    server.on("connection", track);
    server.on("session", trackSession);
    return { server, sessions, sockets };
  }

  const h2 = http2.createServer({}, handler);
  h2.on("session", trackSession);
  const h1 = http.createServer(handler);
  const front = net.createServer((socket) => {
    track(socket);
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && seen.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off("data", onData);
      socket.pause();
      socket.unshift(seen);
      if (isH2) {
        // The HTTP/2 session drains the already-read bytes itself, then reads the socket natively.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  return { server: front, sessions, sockets };
}
