import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

/** Configuration comes from the environment only; every problem is reported at once. */

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("loadConfig accepted the environment");
}

describe("loadConfig", () => {
  it("rejects a non-numeric PORT with one exact problem line", () => {
    expect(problemsOf({ PORT: "abc" })).toEqual(['PORT must be an integer 0-65535, got "abc"']);
  });

  it("rejects PORT out of range and fractional ports", () => {
    expect(problemsOf({ PORT: "65536" })).toEqual(['PORT must be an integer 0-65535, got "65536"']);
    expect(problemsOf({ PORT: "-1" })).toEqual(['PORT must be an integer 0-65535, got "-1"']);
    expect(problemsOf({ PORT: "80.5" })).toEqual(['PORT must be an integer 0-65535, got "80.5"']);
  });

  it("reports every bad variable at once, and the message lists each on its own line", () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: "abc", DATABASE_POOL_SIZE: "0", LOG_LEVEL: "loud", HEALTH_CHECK_INTERVAL_MS: "5" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems).toEqual([
      'PORT must be an integer 0-65535, got "abc"',
      'DATABASE_POOL_SIZE must be an integer 1-1000, got "0"',
      'HEALTH_CHECK_INTERVAL_MS must be an integer 100-60000, got "5"',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
    for (const problem of error.problems) expect(error.message).toContain(`  - ${problem}\n`.trimEnd());
    expect(error.message.split("\n")).toHaveLength(1 + error.problems.length);
  });

  it("rejects a non-postgres DATABASE_URL without echoing its value", () => {
    const problems = problemsOf({ DATABASE_URL: "mysql://admin:hunter2@db.example/x" });
    expect(problems).toEqual(["DATABASE_URL must be a postgres:// or postgresql:// URL"]);
    expect(problems.join("\n")).not.toContain("hunter2");
    expect(problems.join("\n")).not.toContain("mysql");
  });

  it("rejects DATABASE_URL values that are not URLs, also without echoing them", () => {
    expect(problemsOf({ DATABASE_URL: "mysql://x" })).toEqual(["DATABASE_URL must be a postgres:// or postgresql:// URL"]);
    const problems = problemsOf({ DATABASE_URL: "not a url s3cret" });
    expect(problems.join("\n")).not.toContain("s3cret");
  });

  it("accepts postgres:// and postgresql:// URLs as given", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://u:p@h:5432/d" }).databaseUrl).toBe("postgres://u:p@h:5432/d");
    expect(loadConfig({ DATABASE_URL: "postgresql://u@h/d" }).databaseUrl).toBe("postgresql://u@h/d");
  });

  it("requires TLS_CERT_FILE and TLS_KEY_FILE together", () => {
    expect(problemsOf({ TLS_CERT_FILE: "/etc/cyphr/cert.pem" })).toEqual(["TLS_CERT_FILE and TLS_KEY_FILE must be set together"]);
    expect(problemsOf({ TLS_KEY_FILE: "/etc/cyphr/key.pem" })).toEqual(["TLS_CERT_FILE and TLS_KEY_FILE must be set together"]);
    expect(loadConfig({ TLS_CERT_FILE: "/c.pem", TLS_KEY_FILE: "/k.pem" }).tls).toEqual({ certFile: "/c.pem", keyFile: "/k.pem" });
  });

  // Platform settings only: other domains add their own settings and test their defaults.
  it("uses the documented defaults for an empty environment", () => {
    expect(loadConfig({})).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      tls: undefined,
      databaseUrl: undefined,
      dataDir: path.resolve(".cyphr"),
      databasePoolSize: 10,
      jwtPrivateKeyFile: undefined,
      jwtExtraPublicKeyFiles: [],
      fingerprintSecretFile: undefined,
      jwtIssuer: "cyphr",
      jwtAudience: "cyphr",
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 30 * 86_400,
      healthCheckIntervalMs: 2000,
      shutdownGraceMs: 10_000,
      logLevel: "info",
    });
  });

  it("treats empty and blank variables as unset", () => {
    expect(loadConfig({ PORT: "", HOST: "  ", DATABASE_URL: "" })).toMatchObject({ port: 8080, host: "0.0.0.0", databaseUrl: undefined });
  });

  it("reads each variable into its typed field", () => {
    const config = loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      CYPHR_DATA_DIR: "/var/lib/cyphr",
      JWT_EXTRA_PUBLIC_KEY_FILES: " /a.pem, ,/b.pem ",
      ACCESS_TOKEN_TTL_SECONDS: "60",
      LOG_LEVEL: "silent",
    });
    expect(config).toMatchObject({
      port: 0,
      host: "127.0.0.1",
      dataDir: "/var/lib/cyphr",
      jwtExtraPublicKeyFiles: ["/a.pem", "/b.pem"],
      accessTokenTtlSeconds: 60,
      logLevel: "silent",
    });
  });
});
