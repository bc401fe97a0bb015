import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";

export type NodeProtocol = "connect" | "grpc" | "grpc-web";

/** HTTP/2 PINGs that find a dead connection (a request on a connection silent this long is checked first). */
export interface PingOptions {
  /** Default 30 s: under Live's deadAfterMs (65 s), so a stream opened after a silent one gets a live connection. */
  pingIntervalMs?: number;
  /** A PING unanswered this long closes the connection and its streams. Default 10 s. */
  pingTimeoutMs?: number;
}

export const DEFAULT_PING: Required<PingOptions> = { pingIntervalMs: 30_000, pingTimeoutMs: 10_000 };

/** A Node transport to a Cyphr server (HTTP/2) for Account and the other SDK parts. */
export function nodeTransport(baseUrl: string, protocol: NodeProtocol = "connect", ping: PingOptions = {}): Transport {
  const options = { baseUrl, ...DEFAULT_PING, ...ping };
  switch (protocol) {
    case "connect":
      return createConnectTransport({ ...options, httpVersion: "2" });
    case "grpc":
      return createGrpcTransport(options);
    case "grpc-web":
      return createGrpcWebTransport({ ...options, httpVersion: "2" });
  }
}
