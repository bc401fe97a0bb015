/**
 * A TCP proxy on 127.0.0.1, port 0, in front of a server, for tests that break connections:
 * kill() destroys every open connection, freeze() stops forwarding on the open ones while keeping
 * them open (a dead network path). Connections made afterwards work normally.
 */
import net from "node:net";

export interface TcpProxy {
  url: string;
  /** Destroys every open connection; returns how many client connections there were. */
  kill(): number;
  /** Open connections stop forwarding in both directions but stay open. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(port: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const tcp = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    for (const s of [client, upstream]) {
      s.on("error", () => s.destroy());
      s.on("close", () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const { port: own } = tcp.address() as net.AddressInfo;
  const kill = () => {
    const n = pairs.size;
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    return n;
  };
  return {
    url: `http://127.0.0.1:${own}`,
    kill,
    freeze() {
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      kill();
      return new Promise((resolve) => tcp.close(() => resolve()));
    },
  };
}
