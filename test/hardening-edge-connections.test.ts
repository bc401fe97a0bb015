import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Participant, participant } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type DevCertificate, makeDevCertificate } from "./helpers/tls.js";

/**
 * Connections that hold a slot without doing anything are closed: silent before their first
 * bytes, HTTP/1.1 headers or bodies dribbled a byte at a time, HTTP/2 sessions left without a
 * stream; at the connection cap the longest-idle connection makes room, so a new client (a
 * health check) still gets in. Plain h2c and TLS alike. Bounds, not timings: each test shows
 * that the connection is closed, never how fast.
 */

const LIMITS = {
  FIRST_BYTES_TIMEOUT_MS: "300",
  HTTP1_HEADERS_TIMEOUT_MS: "400",
  HTTP1_REQUEST_TIMEOUT_MS: "400",
  HTTP2_IDLE_TIMEOUT_MS: "400",
  HTTP2_MAX_CONCURRENT_STREAMS: "7",
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves true once `socket` is closed by the server, or false if it still is open after `withinMs` (then destroys it). */
function closedWithin(socket: net.Socket, withinMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, withinMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes or the text is out. */
async function dribble(socket: net.Socket, text: string, everyMs: number): Promise<number> {
  let sent = 0;
  for (const ch of text) {
    if (socket.destroyed) break;
    socket.write(ch);
    sent++;
    await sleep(everyMs);
  }
  return sent;
}

const SLOW_HEADERS = `POST /cyphr.identity.v1.IdentityService/CheckAvailability HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`;

interface Dialer {
  name: string;
  /** A raw connection that will speak HTTP/1.1 (TLS: ALPN http/1.1, handshake done). */
  http1(): Promise<net.Socket>;
  /** A raw connection that has said nothing yet (TLS: not even a handshake). */
  silent(): Promise<net.Socket>;
  h2(): http2.ClientHttp2Session;
}

let plain: TestServer;
let secure: TestServer;
let cert: DevCertificate;
let user: Participant;
beforeAll(async () => {
  cert = await makeDevCertificate();
  plain = await startTestServer({ env: LIMITS });
  secure = await startTestServer({
    env: { ...LIMITS, TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile },
    databaseUrl: plain.databaseUrl,
    dataDir: plain.dataDir,
  });
  user = await participant(plain.baseUrl, "grpc", "idle");
});
afterAll(async () => {
  await secure?.close();
  await plain?.close();
});

const connectTcp = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });

const dialers: Dialer[] = [
  {
    name: "h2c (no TLS)",
    http1: () => connectTcp(plain.port),
    silent: () => connectTcp(plain.port),
    h2: () => http2.connect(plain.baseUrl),
  },
  {
    name: "TLS",
    http1: () =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port: secure.port, servername: "localhost", ca: cert.cert, ALPNProtocols: ["http/1.1"] }, () =>
          resolve(socket),
        );
        socket.on("error", reject);
      }),
    silent: () => connectTcp(secure.port),
    h2: () => http2.connect(`https://localhost:${secure.port}`, { ca: cert.cert }),
  },
];

describe.each(dialers)("over $name", (dialer) => {
  it("a connection that sends nothing is closed", async () => {
    const socket = await dialer.silent();
    socket.on("error", () => {});
    expect(await closedWithin(socket, 5000)).toBe(true);
  });

  it("an HTTP/1.1 client dribbling its headers a byte at a time is cut off before they are complete", async () => {
    const socket = await dialer.http1();
    socket.on("error", () => {});
    const closed = closedWithin(socket, 20_000);
    const sent = await dribble(socket, SLOW_HEADERS, 20);
    expect(await closed).toBe(true);
    expect(sent).toBeLessThan(SLOW_HEADERS.length);
  });

  it("an HTTP/1.1 client dribbling its body is cut off before it is complete", async () => {
    const socket = await dialer.http1();
    socket.on("error", () => {});
    const body = "x".repeat(300);
    socket.write(
      `POST /cyphr.identity.v1.IdentityService/CheckAvailability HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const closed = closedWithin(socket, 20_000);
    const sent = await dribble(socket, body, 20);
    expect(await closed).toBe(true);
    expect(sent).toBeLessThan(body.length);
  });

  it("an idle keep-alive HTTP/1.1 connection is closed after its answer", async () => {
    const socket = await dialer.http1();
    socket.on("error", () => {});
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(await closedWithin(socket, 3000)).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });

  it("an HTTP/2 session with no stream is closed (GOAWAY); one with an open stream is not", async () => {
    const idle = dialer.h2();
    idle.on("error", () => {});
    const goaway = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      idle.once("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    const busy = dialer.h2();
    busy.on("error", () => {});
    const stream = busy.request({
      ":method": "POST",
      ":path": "/cyphr.realtime.v1.RealtimeService/Subscribe",
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${user.accessToken}`,
    });
    stream.on("data", () => {});
    stream.end(Buffer.alloc(5));
    expect(await goaway).toBe(true);
    await sleep(1000);
    expect(busy.closed || busy.destroyed).toBe(false);
    expect(stream.closed).toBe(false);
    stream.close();
    busy.close();
  });

  it("advertises SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
    const session = dialer.h2();
    const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
    session.close();
    expect(settings.maxConcurrentStreams).toBe(7);
  });
});

describe("at the connection cap (MAX_CONNECTIONS=20)", () => {
  let capped: TestServer;
  beforeAll(async () => {
    capped = await startTestServer({ env: { MAX_CONNECTIONS: "20", FIRST_BYTES_TIMEOUT_MS: "60000" }, databaseUrl: plain.databaseUrl, dataDir: plain.dataDir });
  });
  afterAll(() => capped?.close());

  it("a new client gets in by closing the longest-idle connection; silent connections never lock it out", async () => {
    const silent: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = await connectTcp(capped.port);
      socket.on("error", () => {});
      silent.push(socket);
      await sleep(5);
    }
    const oldestClosed = closedWithin(silent[0]!, 5000);
    const res = await fetch(`${capped.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await oldestClosed).toBe(true);
    // The newest silent connections are still there.
    expect(silent[19]!.destroyed).toBe(false);
    for (const socket of silent) socket.destroy();
  });

  it("when every connection is busy, a new one is refused and the busy ones keep working", async () => {
    // Twenty HTTP/1.1 requests whose bodies are still on their way.
    const body = JSON.stringify({ cyphrId: "busy_check" });
    const busy: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = await connectTcp(capped.port);
      socket.on("error", () => {});
      socket.write(
        `POST /cyphr.identity.v1.IdentityService/CheckAvailability HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      busy.push(socket);
    }
    await sleep(200);
    const extra = await connectTcp(capped.port).catch(() => undefined);
    if (extra) {
      extra.on("error", () => {});
      expect(await closedWithin(extra, 5000)).toBe(true);
    }
    let answer = "";
    busy[0]!.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    busy[0]!.write(body);
    for (let i = 0; i < 100 && !answer.includes("available"); i++) await sleep(20);
    expect(answer).toMatch(/^HTTP\/1\.1 200[\s\S]*"available":true/);
    expect(busy.every((s) => !s.destroyed)).toBe(true);
    for (const socket of busy) socket.destroy();
  });
});
