import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";

/** Bounds on connections, whatever protocol they turn out to speak. */
export interface ConnectionLimits {
  /** Open connections at once; a new one beyond it closes the longest-idle one, or is refused when none is idle. */
  maxConnections: number;
  /** A connection that has not shown its protocol (preface sniffed, TLS handshake done) by then is closed. */
  firstBytesTimeoutMs: number;
  /** HTTP/1.1: an idle connection (new, or after a response) must deliver a request's headers within this. */
  http1HeadersTimeoutMs: number;
  /** HTTP/1.1: once its headers arrived, the request body must be complete within this. */
  http1RequestTimeoutMs: number;
  /** HTTP/2: a session with no open stream for this long is closed (GOAWAY). */
  http2IdleTimeoutMs: number;
}

type State = "pending" | "http1" | "http2";

/** One accepted TCP connection, as the limits see it. */
class Connection {
  state: State = "pending";
  /** Open HTTP/2 streams or unfinished HTTP/1.1 requests. */
  active = 0;
  session: http2.ServerHttp2Session | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly socket: net.Socket) {}

  close(): void {
    if (this.session && !this.session.destroyed) this.session.destroy();
    this.socket.destroy();
  }
}

const CONNECTION = Symbol("cyphr.connection");
type Tagged = { [CONNECTION]?: Connection };

/**
 * Every open connection and the one timer that bounds its current state: silent before its
 * protocol is known, slow HTTP/1.1 headers or body, an HTTP/2 session left without streams.
 * Idle connections are kept in the order they became idle, so the longest-idle one is the
 * first to go when the connection cap is reached: a new client (a health check) still gets in.
 */
export class ConnectionRegistry {
  private readonly open = new Set<Connection>();
  /** Connections with nothing in flight, longest idle first (a Set keeps insertion order). */
  private readonly idle = new Set<Connection>();

  constructor(private readonly limits: ConnectionLimits) {}

  get size(): number {
    return this.open.size;
  }

  /** A new TCP connection. Returns false (and destroys it) when the cap is reached and no connection is idle. */
  accept(socket: net.Socket): boolean {
    if (this.open.size >= this.limits.maxConnections) {
      const oldest = this.idle.values().next();
      if (oldest.done) {
        socket.destroy();
        return false;
      }
      this.drop(oldest.value);
      oldest.value.close();
    }
    const conn = new Connection(socket);
    (socket as Tagged)[CONNECTION] = conn;
    this.open.add(conn);
    socket.once("close", () => this.drop(conn));
    this.becomeIdle(conn, this.limits.firstBytesTimeoutMs);
    return true;
  }

  /** The TLS socket wrapping an accepted TCP socket shares its connection. */
  adoptTlsSocket(tlsSocket: net.Socket, raw: net.Socket | undefined): void {
    const conn = raw && (raw as Tagged)[CONNECTION];
    if (conn) (tlsSocket as Tagged)[CONNECTION] = conn;
  }

  /** The connection speaks HTTP/1.1: its first request's headers are now on the clock. */
  startHttp1(socket: net.Socket): void {
    const conn = (socket as Tagged)[CONNECTION];
    if (conn?.state !== "pending") return;
    conn.state = "http1";
    this.becomeIdle(conn, this.limits.http1HeadersTimeoutMs);
  }

  /** An HTTP/1.1 request whose headers arrived: its body is on the clock until it ends, then its response. */
  http1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const conn = (req.socket as Tagged)[CONNECTION];
    if (!conn) return;
    this.becomeBusy(conn);
    const bodyTimer = req.complete ? undefined : setTimeout(() => conn.close(), this.limits.http1RequestTimeoutMs);
    bodyTimer?.unref();
    req.once("end", () => clearTimeout(bodyTimer));
    res.once("close", () => {
      clearTimeout(bodyTimer);
      conn.active--;
      if (conn.active === 0 && this.open.has(conn)) this.becomeIdle(conn, this.limits.http1HeadersTimeoutMs);
    });
  }

  /** The connection speaks HTTP/2: it is idle while it has no stream. */
  startHttp2(session: http2.ServerHttp2Session): void {
    const conn = (session.socket as unknown as Tagged)[CONNECTION];
    if (!conn) return;
    conn.state = "http2";
    conn.session = session;
    const idleClose = () => {
      session.close();
      // close() waits for open streams; an idle session has none, so this is only a backstop.
      setTimeout(() => conn.close(), 1000).unref();
    };
    this.becomeIdle(conn, this.limits.http2IdleTimeoutMs, idleClose);
    session.on("stream", (stream) => {
      this.becomeBusy(conn);
      // "close" comes once: `on` spares the wrapper `once` makes for each stream.
      stream.on("close", () => {
        conn.active--;
        if (conn.active === 0 && this.open.has(conn) && !session.closed) this.becomeIdle(conn, this.limits.http2IdleTimeoutMs, idleClose);
      });
    });
  }

  private becomeBusy(conn: Connection): void {
    conn.active++;
    this.clearTimer(conn);
    this.idle.delete(conn);
  }

  private becomeIdle(conn: Connection, timeoutMs: number, onTimeout: () => void = () => conn.close()): void {
    this.clearTimer(conn);
    this.idle.delete(conn);
    this.idle.add(conn);
    conn.timer = setTimeout(onTimeout, timeoutMs);
    conn.timer.unref();
  }

  private clearTimer(conn: Connection): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
  }

  private drop(conn: Connection): void {
    this.clearTimer(conn);
    this.open.delete(conn);
    this.idle.delete(conn);
  }
}
