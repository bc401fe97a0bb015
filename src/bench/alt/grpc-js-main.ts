/**
 * Bench-only experiment (`npm run bench -- --server=grpc-js`): starts the app exactly as
 * src/main.ts does, but serves the same handlers over gRPC only, through @grpc/grpc-js
 * on PORT (h2c). No gRPC-Web, no Connect, no /healthz, no reflection, no TLS.
 */
import { setMaxListeners } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { boot, shutDownOnSignals } from "../../boot.js";
import { GroupsService } from "../../gen/cyphr/groups/v1/groups_pb.js";
import { IdentityService } from "../../gen/cyphr/identity/v1/identity_pb.js";
import { MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { RealtimeService } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { groupsService } from "../../groups/service.js";
import { identityService, IDENTITY_PUBLIC_METHODS } from "../../identity/service.js";
import { authenticate as authenticateCaller } from "../../identity/sessions.js";
import { messagingService } from "../../messaging/service.js";
import { realtimeService } from "../../realtime/service.js";
import { PUBLIC_SERVICES } from "../../routes.js";
import { healthService } from "../../rpc/health.js";
import { addConnectService, type AdapterOptions } from "./grpc-js-adapter.js";

async function main(): Promise<void> {
  const booted = await boot();
  const { config, log, app, embedded } = booted;
  if (config.tls) throw new Error("the grpc-js experiment serves h2c only; unset TLS_CERT_FILE/TLS_KEY_FILE");

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
    { port, embeddedPostgres: embedded !== undefined, migrationsApplied: booted.migrationsApplied, startupMs: Math.round(performance.now() - booted.started) },
    "cyphr (grpc-js experiment) serving gRPC only",
  );

  shutDownOnSignals(booted, async () => {
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
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`cyphr (grpc-js experiment) failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
