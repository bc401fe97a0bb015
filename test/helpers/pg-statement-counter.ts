import net from "node:net";

/**
 * A TCP proxy in front of a real PostgreSQL that counts the statements its clients run,
 * read from the frontend protocol itself: every simple query ('Q', which is how BEGIN and
 * COMMIT go) and every extended-protocol execution ('E'). Nothing the server does escapes
 * it (transactions, functions called by the pool, the event bus), unlike a counter inside
 * the pool. Each statement is recorded by its `/* queryName *\/` comment (or its first
 * words), so a failing bound shows what ran.
 */
export interface StatementCounter {
  /** A database URL like the target's, through the proxy. */
  url: string;
  /** Statement names recorded since the last `reset`, in order. */
  readonly statements: string[];
  reset(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;

export async function startStatementCounter(targetUrl: string): Promise<StatementCounter> {
  const target = new URL(targetUrl);
  const statements: string[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    const parse = frontendParser((name) => statements.push(name));
    client.on("data", (chunk) => {
      parse(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const url = new URL(targetUrl);
  url.hostname = "127.0.0.1";
  url.port = String((proxy.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    statements,
    reset: () => void (statements.length = 0),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

/** Feeds one connection's client-to-server bytes; calls `executed` for each statement run. */
function frontendParser(executed: (name: string) => void): (chunk: Buffer) => void {
  let buffer = Buffer.alloc(0);
  let started = false;
  let lastParsed = "";
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (!started) {
        // Startup packets carry no type byte: length, then a protocol code.
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        started = buffer.readInt32BE(4) !== SSL_REQUEST;
        buffer = buffer.subarray(length);
        continue;
      }
      if (buffer.length < 5) return;
      const type = String.fromCharCode(buffer[0]!);
      const length = buffer.readInt32BE(1);
      if (buffer.length < 1 + length) return;
      const body = buffer.subarray(5, 1 + length);
      if (type === "Q") executed(nameOf(cstring(body, 0)));
      else if (type === "P") {
        const statementName = cstring(body, 0);
        lastParsed = cstring(body, Buffer.byteLength(statementName) + 1);
      } else if (type === "E") executed(nameOf(lastParsed));
      buffer = buffer.subarray(1 + length);
    }
  };
}

function cstring(body: Buffer, offset: number): string {
  const end = body.indexOf(0, offset);
  return body.toString("utf8", offset, end < 0 ? body.length : end);
}

function nameOf(text: string): string {
  const comment = /\/\*\s*([A-Za-z0-9_]+)\s*\*\//.exec(text);
  return comment ? comment[1]! : text.trim().split(/\s+/).slice(0, 2).join(" ");
}
