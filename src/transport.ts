import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import type { Config } from "./config.js";
import { type ConnectionLimits, ConnectionRegistry } from "./transport/connections.js";
import { KEEPALIVE_MS, keepAlive } from "./transport/keepalive.js";
import { claimStreams, type StreamClaim } from "./transport/stream-claims.js";
import { WriteWatchdog } from "./transport/write-watchdog.js";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** What one client may hold at the transport (see docs/limits.md). */
export interface TransportLimits extends ConnectionLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams one HTTP/2 connection may have open at once. */
  http2MaxConcurrentStreams: number;
  /** A response whose buffered bytes make no progress this long is reset. */
  writeStallTimeoutMs: number;
}

export function transportLimits(config: Config): TransportLimits {
  return {
    maxConnections: config.maxConnections,
    firstBytesTimeoutMs: config.firstBytesTimeoutMs,
    http1HeadersTimeoutMs: config.http1HeadersTimeoutMs,
    http1RequestTimeoutMs: config.http1RequestTimeoutMs,
    http2IdleTimeoutMs: config.http2IdleTimeoutMs,
    http2MaxConcurrentStreams: config.http2MaxConcurrentStreams,
    writeStallTimeoutMs: config.writeStallTimeoutMs,
  };
}

export interface Listener {
  server: net.Server;
  /** HTTP/2 sessions currently open (for GOAWAY on shutdown). */
  sessions: Set<http2.ServerHttp2Session>;
  /** Every open TCP connection. */
  sockets: Set<net.Socket>;
  /** Stops the transport's timers (after the server closed). */
  close(): void;
}

/**
 * One port for every protocol. With TLS, ALPN picks HTTP/2 or HTTP/1.1 and only TLS 1.3
 * is accepted. Without TLS (h2c, behind Envoy), Node's HTTP/2 server cannot fall back to
 * HTTP/1.1, so the first bytes of each connection decide: the HTTP/2 preface goes to the
 * HTTP/2 server (gRPC, Connect, gRPC-Web over h2c), anything else to the HTTP/1.1 server
 * (gRPC-Web and Connect from browsers, curl).
 *
 * Every connection is bounded (src/transport/connections.ts): the cap on open connections,
 * the time to show its protocol, HTTP/1.1 header and body timeouts, the HTTP/2 idle timeout;
 * every response is watched for a client that stops reading (src/transport/write-watchdog.ts).
 * Node's http.Server applies its own header and request timeouts only to connections it
 * accepted while listening, which the HTTP/1.1 server here never does; the registry applies
 * them to every connection instead.
 */
export function createListener(tls: Config["tls"], limits: TransportLimits, handler: Handler, claim?: StreamClaim): Listener {
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  const connections = new ConnectionRegistry(limits);
  const watchdog = new WriteWatchdog(limits.writeStallTimeoutMs);
  const track = (socket: net.Socket): boolean => {
    if (!connections.accept(socket)) return false;
    socket.setKeepAlive(true, KEEPALIVE_MS);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    return true;
  };
  const trackSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    connections.startHttp2(session);
    const pinger = keepAlive(session);
    session.once("close", () => {
      clearInterval(pinger);
      sessions.delete(session);
    });
  };
  // The one place every request passes on its way to the handler.
  const serve: Handler = (req, res) => {
    if (req.httpVersionMajor === 1) connections.http1Request(req as http.IncomingMessage, res as http.ServerResponse);
    watchdog.watch(res);
    handler(req, res);
  };
  const http2Options: http2.ServerOptions = { settings: { maxConcurrentStreams: limits.http2MaxConcurrentStreams } };
  const close = () => watchdog.stop();
  // Claimed streams get the same write watchdog as every response.
  const watchedClaim: StreamClaim = (stream, headers) => {
    const claimed = claim?.(stream, headers) ?? false;
    if (claimed) watchdog.watchStream(stream);
    return claimed;
  };

  if (tls) {
    const server = http2.createSecureServer(
      {
        ...http2Options,
        allowHTTP1: true,
        cert: fs.readFileSync(tls.certFile),
        key: fs.readFileSync(tls.keyFile),
        minVersion: "TLSv1.3",
        handshakeTimeout: limits.firstBytesTimeoutMs,
      },
      serve,
    );
    // Node's own HTTP/1.1 checks do run here (this server listens); keep them in line with ours.
    Object.assign(server, { headersTimeout: limits.http1HeadersTimeoutMs, requestTimeout: limits.http1HeadersTimeoutMs + limits.http1RequestTimeoutMs });
    server.on("connection", track);
    // Before Node's own listener, which creates the HTTP/2 session from this socket.
    server.prependListener("secureConnection", (socket: tls.TLSSocket) => {
      connections.adoptTlsSocket(socket, (socket as unknown as { _parent?: net.Socket })._parent);
      if (socket.alpnProtocol !== "h2") connections.startHttp1(socket);
    });
    server.on("session", trackSession);
    if (claim) claimStreams(server, watchedClaim);
    return { server, sessions, sockets, close };
  }

  const h2 = http2.createServer(http2Options, serve);
  h2.on("session", trackSession);
  if (claim) claimStreams(h2, watchedClaim);
  const h1 = http.createServer(serve);
  const front = net.createServer((socket) => {
    if (!track(socket)) return;
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
        connections.startHttp1(socket);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  return { server: front, sessions, sockets, close };
}
