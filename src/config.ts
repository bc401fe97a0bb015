import path from "node:path";
import { fileURLToPath } from "node:url";
import type { S3Settings } from "./attachments/s3-blob-store.js";
import { isSupportedCiphersuite, SUPPORTED_CIPHERSUITES, type SupportedCiphersuite } from "./mls/suites.js";
import { type RateLimits, readRateLimits } from "./privacy/limits/limits.js";
import { MAX_SIGNAL_PAYLOAD_BYTES } from "./realtime/limits.js";

/** Typed, validated server configuration. Every field comes from one environment variable. */
export interface Config {
  /** TCP port for gRPC, gRPC-Web and Connect. 0 picks a free port (tests). */
  port: number;
  /** Interface to bind. */
  host: string;
  /** TLS certificate and key (PEM files). Both or neither. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** Open TCP connections accepted at once; beyond it the longest-idle connection is closed to make room. */
  maxConnections: number;
  /** How long a new connection may stay silent (no bytes, or no finished TLS handshake), in milliseconds. */
  firstBytesTimeoutMs: number;
  /** How long an HTTP/1.1 request's headers may take to arrive (from connect or the previous response), in milliseconds. */
  http1HeadersTimeoutMs: number;
  /** How long an HTTP/1.1 request (headers and body) may take to arrive, in milliseconds. */
  http1RequestTimeoutMs: number;
  /** How long an HTTP/2 connection may stay open with no stream, in milliseconds. */
  http2IdleTimeoutMs: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to each HTTP/2 client. */
  http2MaxConcurrentStreams: number;
  /** A response whose buffered bytes make no progress for this long is reset, in milliseconds. */
  writeStallTimeoutMs: number;
  /** Request bytes one connection (HTTP/2 session, HTTP/1.1 socket) may have buffered at once. */
  requestBufferBytesPerConnection: number;
  /** Request bytes all connections together may have buffered at once. */
  requestBufferBytesTotal: number;
  /** External PostgreSQL; undefined starts an embedded one. */
  databaseUrl: string | undefined;
  /** Folder for embedded Postgres data and generated secrets. */
  dataDir: string;
  /** Restarts of a dead embedded PostgreSQL tried before the server exits non-zero. */
  embeddedPostgresRestarts: number;
  /** How long the embedded PostgreSQL's fast shutdown may take before an immediate one, in milliseconds. */
  embeddedPostgresStopTimeoutMs: number;
  /** Maximum database connections per instance. */
  databasePoolSize: number;
  /** PKCS#8 PEM file holding the Ed25519 JWT signing key; undefined: generated in dataDir. */
  jwtPrivateKeyFile: string | undefined;
  /** Extra SPKI PEM files whose keys still verify tokens (key rotation). */
  jwtExtraPublicKeyFiles: string[];
  /** Secret (file, at least 32 bytes) for HMAC of device fingerprints; undefined: generated in dataDir. */
  fingerprintSecretFile: string | undefined;
  /** File with the 32-byte (64 hex characters) key sealing TOTP secrets at rest; undefined: generated in dataDir. */
  totpKeyFile: string | undefined;
  /** argon2id costs of new PIN hashes: memory in KiB, passes, lanes. Older hashes with lower costs are re-hashed on their next success. */
  pinArgon2MemoryKib: number;
  pinArgon2TimeCost: number;
  pinArgon2Parallelism: number;
  /** Days a deleted account's Cyphr ID cannot be registered again. */
  idQuarantineDays: number;
  jwtIssuer: string;
  jwtAudience: string;
  /** Access token lifetime in seconds. */
  accessTokenTtlSeconds: number;
  /** Refresh token lifetime in seconds. */
  refreshTokenTtlSeconds: number;
  /** How often the health monitor pings the database, in milliseconds. */
  healthCheckIntervalMs: number;
  /** How long one database probe may take before health reads NOT_SERVING and /readyz 503, in milliseconds. */
  healthCheckTimeoutMs: number;
  /** How long shutdown waits for in-flight calls before closing connections, in milliseconds. */
  shutdownGraceMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Largest encrypted payload (all five fields together), in bytes. */
  messageMaxBytes: number;
  /** Sustained SendMessage rate per sender, messages per second. */
  sendRatePerSecond: number;
  /** SendMessage burst per sender. */
  sendBurst: number;
  /** Hash partitions of the messages table; read only when the messaging migration first runs. */
  messagePartitions: number;
  /** How often expired messages are purged, in milliseconds. */
  sweepIntervalMs: number;
  /** Largest group, members included the creator. */
  maxGroupMembers: number;
  /** Devices one account may have (device 1 included). */
  maxDevices: number;
  /** BeginDeviceLink calls per source address: sustained per minute, and the burst saved up. */
  deviceLinkBeginPerMinute: number;
  deviceLinkBeginBurst: number;
  /** Pending device links one source address may have. */
  deviceLinksPendingPerSource: number;
  /** Where a BeginDeviceLink caller's source address is read: the TCP peer, or the last X-Forwarded-For entry (behind Envoy). */
  deviceLinkSource: "peer" | "last-forwarded-for";
  /** MLS ciphersuites accepted for key packages and MLS chats, the default first (RFC 9420 names). */
  mlsCiphersuites: SupportedCiphersuite[];
  /** One-time MLS key packages one device may store, all suites together. */
  maxKeyPackages: number;
  /** A device left with fewer one-time key packages than this after a claim gets key_packages_low. */
  keyPackagesLowThreshold: number;
  /** Epochs before the current one that MLS application messages and proposals may still name. */
  mlsEpochWindow: number;
  /** Interval of in-stream heartbeats, in milliseconds. */
  heartbeatIntervalMs: number;
  /** Frames a stream may fall behind before the server ends it. */
  streamBufferFrames: number;
  /** Bytes a stream may fall behind (queued plus held by the transport) before the server ends it. */
  streamBufferBytes: number;
  /** Live event streams (Connect and Subscribe together) one user may hold on one instance. */
  streamsPerUser: number;
  /** How often acknowledged cursors are written (coalesced, one statement for all sessions), in milliseconds. */
  ackFlushMs: number;
  /** What serves Connect and Subscribe over HTTP/2: the core-stream fast path ("h2") or connect-es ("connect"). */
  streamEngine: "h2" | "connect";
  /** Days durable events are kept for replay. */
  eventRetentionDays: number;
  /** How long a call rings before it ends as missed, in milliseconds. */
  ringTimeoutMs: number;
  /** How long a typing indicator lasts without refresh, in milliseconds. */
  typingExpiryMs: number;
  stunUrls: string[];
  turnUrls: string[];
  /** Shared secret of the TURN server (coturn static-auth-secret). */
  turnSecret: string | undefined;
  turnTtlSeconds: number;
  /** Where attachment bytes live: PostgreSQL (attachment_blob_parts) or S3-compatible object storage. */
  attachmentsStore: "postgres" | "s3";
  /** Largest attachment, in bytes. */
  attachmentsMaxBytes: number;
  /** Bytes one account's live attachments and unfinished uploads may hold together. */
  attachmentsQuotaBytes: number;
  /** Seconds an upload may stay unfinished before it is removed. */
  attachmentsUploadTtlSeconds: number;
  /** Seconds an attachment lives after its upload completed (and the longest lifetime a client may ask for). */
  attachmentsTtlSeconds: number;
  /** Attachment reads (GetAttachment streams and ReadAttachment calls) one instance serves at once. */
  attachmentsMaxReads: number;
  /** How often expired attachments and the bytes of deleted ones are purged, in milliseconds. */
  attachmentsPurgeIntervalMs: number;
  /** ATTACHMENTS_S3_*: the bucket when attachmentsStore is "s3". */
  attachmentsS3: S3Settings | undefined;
  /** Origins (scheme://host[:port]) whose pages may call the API from another origin; empty: same-origin only. */
  corsAllowedOrigins: string[];
  /** Folder of the built web app served at `/`; a missing folder serves no web app. */
  webDir: string;
  /** Port of a separate plain-HTTP listener for GET /metrics; undefined: /metrics is served on PORT. */
  metricsPort: number | undefined;
  /** Longest a single SQL statement may run before PostgreSQL cancels it, in milliseconds. */
  databaseStatementTimeoutMs: number;
  /** Days call records are kept. */
  callRecordRetentionDays: number;
  /** Days messages are kept whatever their timer; undefined: until deleted or expired. */
  messageRetentionDays: number | undefined;
  /** Rate limits shared by every instance (RATE_LIMIT_<NAME> = "<per minute>/<burst>"). */
  rateLimits: RateLimits;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** MLS_CIPHERSUITES: names from SUPPORTED_CIPHERSUITES; unset means all of them, ML-KEM-1024 first. */
function readCiphersuites(names: string[], problems: string[]): SupportedCiphersuite[] {
  if (names.length === 0) return [...SUPPORTED_CIPHERSUITES];
  const unknown = names.filter((n) => !isSupportedCiphersuite(n));
  if (unknown.length > 0) problems.push(`MLS_CIPHERSUITES: unsupported ${unknown.join(", ")} (supported: ${SUPPORTED_CIPHERSUITES.join(", ")})`);
  return [...new Set(names.filter(isSupportedCiphersuite))];
}

/** Where `npm install` / `npm start` build the web app (src/web/build.ts): dist/web in this checkout. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../dist/web", import.meta.url));

/** CORS_ALLOWED_ORIGINS: exact origins, as browsers send them in the Origin header (no path, no "*"). */
function readOrigins(entries: string[], problems: string[]): string[] {
  const origins: string[] = [];
  for (const entry of entries) {
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      origin = (url.protocol === "http:" || url.protocol === "https:") && url.origin === entry ? url.origin : undefined;
    } catch {
      origin = undefined;
    }
    if (origin === undefined)
      problems.push(`CORS_ALLOWED_ORIGINS entries must be origins like https://chat.example.com (scheme, host, optional port; no path or "*"), got "${entry}"`);
    else origins.push(origin);
  }
  return [...new Set(origins)];
}

/** Reads the environment, reporting every problem at once, one line each. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const certFile = read.string("TLS_CERT_FILE");
  const keyFile = read.string("TLS_KEY_FILE");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }

  const config: Config = {
    port: read.integer("PORT", 8080, 0, 65535),
    host: read.string("HOST") ?? "0.0.0.0",
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    maxConnections: read.integer("MAX_CONNECTIONS", 10_000, 1, 1_000_000),
    firstBytesTimeoutMs: read.integer("FIRST_BYTES_TIMEOUT_MS", 10_000, 100, 600_000),
    http1HeadersTimeoutMs: read.integer("HTTP1_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000),
    http1RequestTimeoutMs: read.integer("HTTP1_REQUEST_TIMEOUT_MS", 60_000, 100, 3_600_000),
    http2IdleTimeoutMs: read.integer("HTTP2_IDLE_TIMEOUT_MS", 120_000, 100, 86_400_000),
    http2MaxConcurrentStreams: read.integer("HTTP2_MAX_CONCURRENT_STREAMS", 100, 1, 10_000),
    writeStallTimeoutMs: read.integer("WRITE_STALL_TIMEOUT_MS", 30_000, 100, 3_600_000),
    // At least one largest request (4 MiB and its 5-byte envelope), so every request can be received.
    requestBufferBytesPerConnection: read.integer("REQUEST_BUFFER_BYTES_PER_CONNECTION", 32 * 1024 * 1024, 4 * 1024 * 1024 + 5, 2 ** 40),
    requestBufferBytesTotal: read.integer("REQUEST_BUFFER_BYTES_TOTAL", 256 * 1024 * 1024, 4 * 1024 * 1024 + 5, 2 ** 40),
    databaseUrl: read.postgresUrl("DATABASE_URL"),
    dataDir: path.resolve(read.string("CYPHR_DATA_DIR") ?? ".cyphr"),
    embeddedPostgresRestarts: read.integer("EMBEDDED_POSTGRES_RESTARTS", 5, 0, 100),
    embeddedPostgresStopTimeoutMs: read.integer("EMBEDDED_POSTGRES_STOP_TIMEOUT_MS", 30_000, 1000, 600_000),
    databasePoolSize: read.integer("DATABASE_POOL_SIZE", 10, 1, 1000),
    jwtPrivateKeyFile: read.string("JWT_PRIVATE_KEY_FILE"),
    jwtExtraPublicKeyFiles: read.list("JWT_EXTRA_PUBLIC_KEY_FILES"),
    fingerprintSecretFile: read.string("FINGERPRINT_SECRET_FILE"),
    totpKeyFile: read.string("TOTP_KEY_FILE"),
    pinArgon2MemoryKib: read.integer("PIN_ARGON2_MEMORY_KIB", 19_456, 1024, 4 * 1024 * 1024),
    pinArgon2TimeCost: read.integer("PIN_ARGON2_TIME_COST", 2, 1, 100),
    pinArgon2Parallelism: read.integer("PIN_ARGON2_PARALLELISM", 1, 1, 16),
    idQuarantineDays: read.integer("ID_QUARANTINE_DAYS", 30, 0, 3650),
    jwtIssuer: read.string("JWT_ISSUER") ?? "cyphr",
    jwtAudience: read.string("JWT_AUDIENCE") ?? "cyphr",
    accessTokenTtlSeconds: read.integer("ACCESS_TOKEN_TTL_SECONDS", 900, 30, 86_400),
    refreshTokenTtlSeconds: read.integer("REFRESH_TOKEN_TTL_SECONDS", 30 * 86_400, 300, 365 * 86_400),
    healthCheckIntervalMs: read.integer("HEALTH_CHECK_INTERVAL_MS", 2000, 100, 60_000),
    healthCheckTimeoutMs: read.integer("HEALTH_CHECK_TIMEOUT_MS", 2000, 100, 60_000),
    shutdownGraceMs: read.integer("SHUTDOWN_GRACE_MS", 10_000, 0, 300_000),
    logLevel: read.oneOf("LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
    messageMaxBytes: read.integer("MESSAGE_MAX_BYTES", 65_536, 1024, 4 * 1024 * 1024 - 4096),
    sendRatePerSecond: read.integer("SEND_RATE_PER_SECOND", 50, 1, 1_000_000),
    sendBurst: read.integer("SEND_BURST", 100, 1, 1_000_000),
    messagePartitions: read.integer("MESSAGE_PARTITIONS", 16, 1, 1024),
    sweepIntervalMs: read.integer("SWEEP_INTERVAL_MS", 30_000, 100, 3_600_000),
    maxGroupMembers: read.integer("MAX_GROUP_MEMBERS", 1000, 2, 100_000),
    maxDevices: read.integer("MAX_DEVICES", 5, 1, 100),
    deviceLinkBeginPerMinute: read.integer("DEVICE_LINK_BEGIN_PER_MINUTE", 1, 1, 100_000),
    deviceLinkBeginBurst: read.integer("DEVICE_LINK_BEGIN_BURST", 5, 1, 100_000),
    deviceLinksPendingPerSource: read.integer("DEVICE_LINKS_PENDING_PER_SOURCE", 3, 1, 10_000),
    deviceLinkSource: read.oneOf("DEVICE_LINK_SOURCE", ["peer", "last-forwarded-for"], "peer"),
    mlsCiphersuites: readCiphersuites(read.list("MLS_CIPHERSUITES"), problems),
    maxKeyPackages: read.integer("MAX_KEY_PACKAGES", 200, 1, 10_000),
    keyPackagesLowThreshold: read.integer("KEY_PACKAGES_LOW_THRESHOLD", 10, 0, 10_000),
    mlsEpochWindow: read.integer("MLS_EPOCH_WINDOW", 3, 0, 1000),
    heartbeatIntervalMs: read.integer("HEARTBEAT_INTERVAL_MS", 25_000, 100, 600_000),
    streamBufferFrames: read.integer("STREAM_BUFFER_FRAMES", 1024, 16, 1_000_000),
    streamBufferBytes: read.integer("STREAM_BUFFER_BYTES", 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    streamsPerUser: read.integer("STREAM_MAX_PER_USER", 16, 1, 10_000),
    ackFlushMs: read.integer("ACK_FLUSH_MS", 500, 10, 60_000),
    streamEngine: read.oneOf("STREAM_ENGINE", ["h2", "connect"], "h2"),
    eventRetentionDays: read.integer("EVENT_RETENTION_DAYS", 30, 1, 3650),
    ringTimeoutMs: read.integer("RING_TIMEOUT_MS", 45_000, 100, 600_000),
    typingExpiryMs: read.integer("TYPING_EXPIRY_MS", 10_000, 100, 600_000),
    stunUrls: read.urls("ICE_STUN_URLS", ["stun:", "stuns:"]),
    turnUrls: read.urls("ICE_TURN_URLS", ["turn:", "turns:"]),
    turnSecret: read.string("TURN_SECRET"),
    turnTtlSeconds: read.integer("TURN_TTL_SECONDS", 43_200, 60, 7 * 86_400),
    attachmentsStore: read.oneOf("ATTACHMENTS_STORE", ["postgres", "s3"], "postgres"),
    attachmentsMaxBytes: read.integer("ATTACHMENTS_MAX_BYTES", 100 * 1024 * 1024, 1024, 64 * 1024 ** 3),
    attachmentsQuotaBytes: read.integer("ATTACHMENTS_QUOTA_BYTES", 1024 ** 3, 1024, 2 ** 50),
    attachmentsUploadTtlSeconds: read.integer("ATTACHMENTS_UPLOAD_TTL_SECONDS", 86_400, 60, 30 * 86_400),
    attachmentsTtlSeconds: read.integer("ATTACHMENTS_TTL_SECONDS", 30 * 86_400, 60, 3650 * 86_400),
    attachmentsMaxReads: read.integer("ATTACHMENTS_MAX_READS", 64, 1, 100_000),
    attachmentsPurgeIntervalMs: read.integer("ATTACHMENTS_PURGE_INTERVAL_MS", 60_000, 100, 86_400_000),
    attachmentsS3: readAttachmentsS3(read),
    corsAllowedOrigins: readOrigins(read.list("CORS_ALLOWED_ORIGINS"), problems),
    webDir: path.resolve(read.string("WEB_DIR") ?? DEFAULT_WEB_DIR),
    metricsPort: read.string("METRICS_PORT") === undefined ? undefined : read.integer("METRICS_PORT", 0, 0, 65535),
    databaseStatementTimeoutMs: read.integer("DATABASE_STATEMENT_TIMEOUT_MS", 10_000, 100, 3_600_000),
    callRecordRetentionDays: read.integer("CALL_RECORD_RETENTION_DAYS", 30, 1, 3650),
    messageRetentionDays: read.string("MESSAGE_RETENTION_DAYS") === undefined ? undefined : read.integer("MESSAGE_RETENTION_DAYS", 0, 1, 36_500),
    rateLimits: readRateLimits(env, problems),
  };
  // Replay pushes below half the byte budget, so the largest frame must fit in the other half.
  const largestFrameBytes = Math.max(config.messageMaxBytes, MAX_SIGNAL_PAYLOAD_BYTES) + 4096;
  if (config.streamBufferBytes < 2 * largestFrameBytes) {
    problems.push(`STREAM_BUFFER_BYTES must be at least ${2 * largestFrameBytes} (twice the largest frame that MESSAGE_MAX_BYTES allows)`);
  }
  if (config.attachmentsStore === "s3" && config.attachmentsS3 === undefined) problems.push("ATTACHMENTS_STORE=s3 needs ATTACHMENTS_S3_BUCKET");
  if (config.requestBufferBytesTotal < config.requestBufferBytesPerConnection) {
    problems.push("REQUEST_BUFFER_BYTES_TOTAL must be at least REQUEST_BUFFER_BYTES_PER_CONNECTION");
  }
  if (config.turnUrls.length > 0 && config.turnSecret === undefined) {
    problems.push("ICE_TURN_URLS needs TURN_SECRET (the TURN server's static-auth-secret)");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** ATTACHMENTS_S3_*: undefined without a bucket. Keys are both set or both unset (then the AWS SDK's default chain). */
function readAttachmentsS3(read: EnvReader): S3Settings | undefined {
  const bucket = read.string("ATTACHMENTS_S3_BUCKET");
  const accessKeyId = read.string("ATTACHMENTS_S3_ACCESS_KEY_ID");
  const secretAccessKey = read.string("ATTACHMENTS_S3_SECRET_ACCESS_KEY");
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    read.problem("ATTACHMENTS_S3_ACCESS_KEY_ID and ATTACHMENTS_S3_SECRET_ACCESS_KEY must be set together");
  const endpoint = read.string("ATTACHMENTS_S3_ENDPOINT");
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) read.problem("ATTACHMENTS_S3_ENDPOINT must be an http:// or https:// URL");
  if (bucket === undefined) return undefined;
  return {
    endpoint,
    region: read.string("ATTACHMENTS_S3_REGION") ?? "us-east-1",
    bucket,
    prefix: read.string("ATTACHMENTS_S3_PREFIX") ?? "attachments/",
    forcePathStyle: read.oneOf("ATTACHMENTS_S3_FORCE_PATH_STYLE", ["true", "false"], endpoint === undefined ? "false" : "true") === "true",
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    createBucket: read.oneOf("ATTACHMENTS_S3_CREATE_BUCKET", ["true", "false"], "false") === "true",
  };
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  problem(message: string): void {
    this.problems.push(message);
  }

  string(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  list(name: string): string[] {
    return (this.string(name) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  }

  /** Comma-separated URLs, each starting with one of `schemes`. */
  urls(name: string, schemes: readonly string[]): string[] {
    const urls = this.list(name);
    for (const url of urls) {
      if (!schemes.some((s) => url.startsWith(s)) || url.length < 8) {
        this.problems.push(`${name} entries must start with ${schemes.join(" or ")}, got "${url}"`);
      }
    }
    return urls;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer ${min}-${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  postgresUrl(name: string): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "postgres:" && url.protocol !== "postgresql:")) {
      // Never echo the value: it may hold a password.
      this.problems.push(`${name} must be a postgres:// or postgresql:// URL`);
      return undefined;
    }
    return raw;
  }
}
