/**
 * Bench-only experiment (`npm run bench -- --server=grpc-js`): starts the app exactly as
 * src/main.ts does, but serves the same handlers over gRPC only, through @grpc/grpc-js
 * on PORT (h2c). No gRPC-Web, no Connect, no /healthz, no reflection, no TLS.
 */
import { setMaxListeners } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { createApp } from "../../app.js";
import { ConfigError, loadConfig } from "../../config.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../db/embedded.js";
import { migrate } from "../../db/migrate.js";
import { GroupsService } from "../../gen/cyphr/groups/v1/groups_pb.js";
import { IdentityService } from "../../gen/cyphr/identity/v1/identity_pb.js";
import { MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { RealtimeService } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { groupsService } from "../../groups/service.js";
import { identityService, IDENTITY_PUBLIC_METHODS } from "../../identity/service.js";
import { authenticate as authenticateCaller } from "../../identity/sessions.js";
import { createLogger } from "../../log.js";
import { messagingService } from "../../messaging/service.js";
import { realtimeService } from "../../realtime/service.js";
import { PUBLIC_SERVICES } from "../../routes.js";
import { healthService } from "../../rpc/health.js";
import { addConnectService, type AdapterOptions } from "./grpc-js-adapter.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (config.tls) throw new Error("the grpc-js experiment serves h2c only; unset TLS_CERT_FILE/TLS_KEY_FILE");
  const log = createLogger(config.logLevel);
  const started = performance.now();

  let embedded: EmbeddedDatabase | undefined;
  const databaseUrl = config.databaseUrl ?? (embedded = await startEmbeddedPostgres(config.dataDir, log, { avoidPorts: [config.port] })).url;
  const applied = await migrate(databaseUrl, {
    settings: { message_partitions: String(config.messagePartitions) },
    log: (m) => log.info(m),
  });
  const app = await createApp(config, log, databaseUrl);

  const shutdownController = new AbortController();
  setMaxListeners(0, shutdownController.signal);
  const options: AdapterOptions = {
    log,
    publicMethods: new Set([...PUBLIC_SERVICES, ...IDENTITY_PUBLIC_METHODS]),
    verify: (token) => authenticateCaller(app.identity, token),
    shutdownSignal: shutdownController.signal,
  };
  // Same request size cap as the connect server (READ_MAX_BYTES); no per-connection stream cap.
  const server = new grpc.Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
  addConnectService(server, IdentityService, identityService(app.identity), options);
  addConnectService(server, MessagingService, messagingService(app.messaging), options);
  addConnectService(server, GroupsService, groupsService(app.groups), options);
  addConnectService(server, RealtimeService, realtimeService(app.realtime), options);
  addConnectService(server, Health, healthService(app.health), options);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  log.info(
    { port, embeddedPostgres: embedded !== undefined, migrationsApplied: applied.length, startupMs: Math.round(performance.now() - started) },
    "cyphr (grpc-js experiment) serving gRPC only",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    try {
      app.health.drain();
      shutdownController.abort();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, config.shutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await app.close();
      await embedded?.stop();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`cyphr (grpc-js experiment) failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
