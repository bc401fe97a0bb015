import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";

export type NodeProtocol = "connect" | "grpc" | "grpc-web";

/** A Node transport to a Cyphr server (HTTP/2) for Account and the other SDK parts. */
export function nodeTransport(baseUrl: string, protocol: NodeProtocol = "connect"): Transport {
  switch (protocol) {
    case "connect":
      return createConnectTransport({ baseUrl, httpVersion: "2" });
    case "grpc":
      return createGrpcTransport({ baseUrl });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion: "2" });
  }
}
