import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { IdentityService } from "../../src/gen/cyphr/identity/v1/identity_pb.js";

/** The three protocols every service must speak. */
export const PROTOCOLS = ["connect", "grpc", "grpc-web"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface TransportOptions {
  /** Sends `authorization: Bearer <token>` on every call when set. */
  token?: string | (() => string | undefined);
  /** HTTP version for Connect and gRPC-Web (gRPC is always HTTP/2). Default "2". */
  httpVersion?: "1.1" | "2";
}

export function transportFor(protocol: Protocol, baseUrl: string, options: TransportOptions = {}): Transport {
  const interceptors: Interceptor[] = [];
  if (options.token !== undefined) {
    const token = options.token;
    interceptors.push((next) => (req) => {
      const value = typeof token === "function" ? token() : token;
      if (value !== undefined) req.header.set("authorization", `Bearer ${value}`);
      return next(req);
    });
  }
  const httpVersion = options.httpVersion ?? "2";
  switch (protocol) {
    case "connect":
      return createConnectTransport({ baseUrl, httpVersion, interceptors });
    case "grpc":
      return createGrpcTransport({ baseUrl, interceptors });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion, interceptors });
  }
}

export function clientFor<S extends DescService>(service: S, protocol: Protocol, baseUrl: string, options: TransportOptions = {}): Client<S> {
  return createClient(service, transportFor(protocol, baseUrl, options));
}

export function identityClient(protocol: Protocol, baseUrl: string, options: TransportOptions = {}): Client<typeof IdentityService> {
  return clientFor(IdentityService, protocol, baseUrl, options);
}
