import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";

const MAKE_DEV_CERT = fileURLToPath(new URL("../../envoy/make-dev-cert.sh", import.meta.url));

export interface DevCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate PEM; clients pass it as their CA. */
  cert: Buffer;
  dir: string;
}

/** A self-signed certificate for localhost / 127.0.0.1, made by envoy/make-dev-cert.sh (openssl). */
export async function makeDevCertificate(): Promise<DevCertificate> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-cert-"));
  execFileSync("bash", [MAKE_DEV_CERT, dir], { stdio: "pipe" });
  const certFile = path.join(dir, "server.crt");
  return { certFile, keyFile: path.join(dir, "server.key"), cert: await fs.readFile(certFile), dir };
}

export interface Handshake {
  protocol: string | null;
  alpn: string | false | null;
}

/** Opens a TLS connection with `options`, reports what was negotiated, and closes it; rejects when the handshake fails. */
export function handshake(port: number, options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ...options }, () => {
      const result = { protocol: socket.getProtocol(), alpn: socket.alpnProtocol };
      socket.end();
      resolve(result);
    });
    socket.once("error", reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error("handshake timed out")));
  });
}
