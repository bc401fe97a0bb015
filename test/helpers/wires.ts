import type { Client } from "@connectrpc/connect";
import type { IdentityService } from "../../src/gen/cyphr/identity/v1/identity_pb.js";
import { identityClient, PROTOCOLS, type Protocol, type TransportOptions } from "./clients.js";

/** One way a client can reach the server: a protocol over an HTTP version. */
export interface Wire {
  protocol: Protocol;
  httpVersion: "1.1" | "2";
  /** e.g. "grpc-web over HTTP/1.1", for test names. */
  name: string;
}

/**
 * Every protocol over HTTP/2, plus Connect and gRPC-Web over HTTP/1.1 (what browsers and
 * curl use; gRPC itself requires HTTP/2).
 */
export const WIRES: readonly Wire[] = [
  ...PROTOCOLS.map((protocol) => ({ protocol, httpVersion: "2" as const, name: `${protocol} over HTTP/2` })),
  { protocol: "connect", httpVersion: "1.1", name: "connect over HTTP/1.1" },
  { protocol: "grpc-web", httpVersion: "1.1", name: "grpc-web over HTTP/1.1" },
];

export function identityClientOver(wire: Wire, baseUrl: string, options: Omit<TransportOptions, "httpVersion"> = {}): Client<typeof IdentityService> {
  return identityClient(wire.protocol, baseUrl, { ...options, httpVersion: wire.httpVersion });
}
