import fs from "node:fs/promises";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from "vitest";
import { IdentityService } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type DevCertificate, handshake, makeDevCertificate } from "./helpers/tls.js";

/**
 * Deployments without Envoy: with TLS_CERT_FILE and TLS_KEY_FILE set, the server itself
 * terminates TLS, accepting TLS 1.3 only, and serves every protocol over it (ALPN h2 for
 * gRPC, Connect and gRPC-Web; http/1.1 for Connect and gRPC-Web from browsers and curl).
 */

let cert: DevCertificate;
let server: TestServer;
beforeAll(async () => {
  cert = await makeDevCertificate();
  server = await startTestServer({ env: { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile } });
});
afterAll(async () => {
  await server?.close();
  if (cert) await fs.rm(cert.dir, { recursive: true, force: true });
});

describe("TLS handshake", () => {
  test("a client limited to TLS 1.2 is refused", async () => {
    await expect(handshake(server.port, { ca: cert.cert, maxVersion: "TLSv1.2" })).rejects.toMatchObject({
      code: expect.stringMatching(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/),
    });
  });

  test("TLS 1.3 succeeds and ALPN selects h2", async () => {
    expect(await handshake(server.port, { ca: cert.cert, minVersion: "TLSv1.3", ALPNProtocols: ["h2", "http/1.1"] })).toEqual({
      protocol: "TLSv1.3",
      alpn: "h2",
    });
  });

  test("a client that offers only http/1.1 gets http/1.1", async () => {
    expect(await handshake(server.port, { ca: cert.cert, ALPNProtocols: ["http/1.1"] })).toEqual({ protocol: "TLSv1.3", alpn: "http/1.1" });
  });

  test("the certificate is verified against the development CA (an untrusting client fails)", async () => {
    await expect(handshake(server.port, {})).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/) });
  });
});

describe("RPCs over TLS", () => {
  test("a @grpc/grpc-js client with createSsl(ca) calls IdentityService/CheckAvailability", async () => {
    // Generated grpc-js constructors take channel options like grpc.Client's.
    const Identity = grpcJsClientConstructor("cyphr/identity/v1/identity.proto", "cyphr.identity.v1.IdentityService") as typeof grpc.Client;
    // The certificate names localhost; the server listens on 127.0.0.1.
    const client = new Identity(grpcAddress(server.baseUrl), grpc.credentials.createSsl(cert.cert), {
      "grpc.ssl_target_name_override": "localhost",
    });
    try {
      const response = await unary<{ available: boolean }>(client, "CheckAvailability", { cyphr_id: "tls_grpc_js" });
      expect(response.available).toBe(true);
    } finally {
      client.close();
    }
  });

  test("Connect JSON over HTTP/1.1 answers on the same port (as curl --http1.1 calls it)", async () => {
    const agent = new https.Agent({ ca: cert.cert, ALPNProtocols: ["http/1.1"] });
    onTestFinished(() => agent.destroy());
    const { status, body, protocol, alpn } = await new Promise<{ status: number; body: string; protocol: string | null; alpn: string | false | null }>(
      (resolve, reject) => {
        const req = https.request(
          `${server.baseUrl}/cyphr.identity.v1.IdentityService/CheckAvailability`,
          { method: "POST", agent, headers: { "content-type": "application/json" } },
          (res) => {
            const socket = res.socket as TLSSocket;
            const negotiated = { protocol: socket.getProtocol(), alpn: socket.alpnProtocol };
            let text = "";
            res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, ...negotiated }));
          },
        );
        req.once("error", reject);
        req.end(JSON.stringify({ cyphrId: "tls_connect_h1" }));
      },
    );
    expect({ status, protocol, alpn }).toEqual({ status: 200, protocol: "TLSv1.3", alpn: "http/1.1" });
    expect(JSON.parse(body)).toEqual({ available: true });
  });

  test.each(["2", "1.1"] as const)("the Connect protocol client over HTTP/%s with TLS", async (httpVersion) => {
    const transport = createConnectTransport({ baseUrl: server.baseUrl, httpVersion, nodeOptions: { ca: cert.cert } });
    const response = await createClient(IdentityService, transport).checkAvailability({ cyphrId: `tls_connect_${httpVersion.replace(".", "")}` });
    expect(response.available).toBe(true);
  });
});
