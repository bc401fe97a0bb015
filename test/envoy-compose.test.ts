import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { at, type EnvoyYaml } from "./helpers/envoy-fixtures.js";
import { readEnvoyYaml } from "./helpers/envoy-validate.js";
import { startTestServer } from "./helpers/server.js";

/**
 * envoy/compose.yaml cannot run here (no Docker engine), so its wiring is checked against
 * envoy.yaml instead: every upstream Envoy names is a service, Envoy gets its config and
 * certificates where the config reads them, and both Cyphr instances share database and
 * secrets. The secrets script is run for real.
 */

const ENVOY_DIR = fileURLToPath(new URL("../envoy/", import.meta.url));
const compose = parseYaml(fs.readFileSync(path.join(ENVOY_DIR, "compose.yaml"), "utf8"), { merge: true }) as EnvoyYaml;
const envoy = readEnvoyYaml() as EnvoyYaml;
const services = compose.services as Record<string, EnvoyYaml>;

/** "host:container[:ro]" volume mounts of a service, as [host path relative to envoy/, container path]. */
function mounts(service: EnvoyYaml): [string, string][] {
  return (service.volumes as string[]).map((v) => v.split(":") as [string, string]).map(([host, inside]) => [path.normalize(host), inside]);
}

describe("envoy/compose.yaml", () => {
  test("runs PostgreSQL, two Cyphr instances built from envoy/Dockerfile, and Envoy", () => {
    expect(Object.keys(services).sort()).toEqual(["cyphr-1", "cyphr-2", "envoy", "postgres"]);
    expect(services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(services.envoy!.image).toMatch(/^envoyproxy\/envoy:v1\.\d+/);
    for (const name of ["cyphr-1", "cyphr-2"]) {
      expect(services[name]!.build).toEqual({ context: "..", dockerfile: "envoy/Dockerfile" });
    }
    expect(fs.existsSync(path.join(ENVOY_DIR, "Dockerfile"))).toBe(true);
  });

  test("every upstream endpoint in envoy.yaml is a Cyphr service listening on that port", () => {
    const endpoints = at
      .cluster(envoy)
      .load_assignment.endpoints.flatMap((e: EnvoyYaml) => e.lb_endpoints.map((l: EnvoyYaml) => l.endpoint.address.socket_address));
    expect(endpoints.map((a: EnvoyYaml) => a.address).sort()).toEqual(["cyphr-1", "cyphr-2"]);
    for (const { address, port_value } of endpoints) expect(services[address]!.environment.PORT).toBe(String(port_value));
  });

  test("Envoy reads the mounted envoy.yaml and certificates, and publishes the listener port", () => {
    const envoyService = services.envoy!;
    const command = envoyService.command as string[];
    const configPath = command[command.indexOf("--config-path") + 1];
    expect(mounts(envoyService)).toContainEqual(["envoy.yaml", configPath]);
    const certificate = at.tls(envoy).common_tls_context.tls_certificates[0];
    for (const file of [certificate.certificate_chain.filename, certificate.private_key.filename]) {
      // make-dev-cert.sh writes into envoy/certs by default.
      expect(mounts(envoyService)).toContainEqual(["certs", path.posix.dirname(file)]);
    }
    const listenerPort = at.listener(envoy).address.socket_address.port_value;
    expect(envoyService.ports).toEqual([`\${EDGE_PORT:-${listenerPort}}:${listenerPort}`]);
  });

  test("both Cyphr instances share the database, the JWT signing key and the fingerprint secret", () => {
    const [one, two] = [services["cyphr-1"]!, services["cyphr-2"]!];
    expect(one.environment).toEqual(two.environment);
    expect(one.secrets).toEqual(two.secrets);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the compose file's own variable syntax
    expect(new URL(one.environment.DATABASE_URL.replace("${POSTGRES_PASSWORD}", "x")).host).toBe("postgres:5432");
    expect(one.environment.JWT_PRIVATE_KEY_FILE).toBe("/run/secrets/jwt_private_key");
    expect(one.environment.FINGERPRINT_SECRET_FILE).toBe("/run/secrets/fingerprint_secret");
    // The files make-dev-secrets.sh writes.
    expect(compose.secrets).toEqual({
      jwt_private_key: { file: "./secrets/jwt-ed25519.pem" },
      fingerprint_secret: { file: "./secrets/fingerprint-secret" },
    });
  });
});

describe("envoy/make-dev-secrets.sh", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cyphr-secrets-"));
  const envFile = path.join(dir, ".env");
  const run = () => execFileSync("bash", [path.join(ENVOY_DIR, "make-dev-secrets.sh"), path.join(dir, "secrets"), envFile], { stdio: "pipe" });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("makes a JWT key and fingerprint secret a Cyphr server starts with, and a database password", async () => {
    run();
    const server = await startTestServer({
      env: { JWT_PRIVATE_KEY_FILE: path.join(dir, "secrets/jwt-ed25519.pem"), FINGERPRINT_SECRET_FILE: path.join(dir, "secrets/fingerprint-secret") },
    });
    await server.close();
    expect(fs.readFileSync(envFile, "utf8")).toMatch(/^POSTGRES_PASSWORD=[0-9a-f]{48}\n$/);
  });

  test("keeps existing secrets when run again (a new key would end every session)", () => {
    const before = ["secrets/jwt-ed25519.pem", "secrets/fingerprint-secret", ".env"].map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
    run();
    const after = ["secrets/jwt-ed25519.pem", "secrets/fingerprint-secret", ".env"].map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
    expect(after).toEqual(before);
  });
});
