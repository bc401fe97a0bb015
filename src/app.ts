import { randomUUID } from "node:crypto";
import type { DescFile } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { AccountContext } from "./account/context.js";
import { createAccountContext, registerAccountJobs } from "./account/wiring.js";
import type { AttachmentsContext } from "./attachments/context.js";
import { createAttachments, registerAttachmentJobs } from "./attachments/wiring.js";
import type { Config } from "./config.js";
import { loadMigrations } from "./db/migrate.js";
import { closeDatabasePool, createDatabasePool, type DatabasePool } from "./db/pool.js";
import { ReadinessProbe } from "./db/readiness.js";
import { RecentSends } from "./delivery/recent-sends.js";
import type { DevicesContext } from "./devices/context.js";
import { MAX_LINK_WAITERS } from "./devices/limits.js";
import { LinkWaiters } from "./devices/link-waiters.js";
import { AccountService, file_cyphr_account_v1_account } from "./gen/cyphr/account/v1/account_pb.js";
import { AttachmentsService, file_cyphr_attachments_v1_attachments } from "./gen/cyphr/attachments/v1/attachments_pb.js";
import { DevicesService, file_cyphr_devices_v1_devices } from "./gen/cyphr/devices/v1/devices_pb.js";
import { file_cyphr_groups_v1_groups, GroupsService } from "./gen/cyphr/groups/v1/groups_pb.js";
import { file_cyphr_identity_v1_identity, IdentityService } from "./gen/cyphr/identity/v1/identity_pb.js";
import { file_cyphr_messaging_v1_messaging, MessagingService } from "./gen/cyphr/messaging/v1/messaging_pb.js";
import { file_cyphr_mls_v1_key_packages, KeyPackagesService } from "./gen/cyphr/mls/v1/key_packages_pb.js";
import { file_cyphr_mls_v1_mls_chats, MlsChatsService } from "./gen/cyphr/mls/v1/mls_chats_pb.js";
import { file_cyphr_privacy_v1_privacy, PrivacyService } from "./gen/cyphr/privacy/v1/privacy_pb.js";
import { file_cyphr_realtime_v1_realtime, RealtimeService } from "./gen/cyphr/realtime/v1/realtime_pb.js";
import { file_grpc_health_v1_health, Health } from "./gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection, ServerReflection as ReflectionV1 } from "./gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection, ServerReflection as ReflectionV1alpha } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { GroupsContext } from "./groups/context.js";
import { ActiveSessions } from "./identity/active-sessions.js";
import type { IdentityContext } from "./identity/context.js";
import { loadServerKeys } from "./identity/server-keys.js";
import { AccessTokens } from "./identity/tokens.js";
import { type Clock, Jobs } from "./jobs/jobs.js";
import { registerJobs } from "./jobs/schedule.js";
import type { KeyPackagesContext } from "./key-packages/context.js";
import { CLAIM_BURST, CLAIM_RATE_PER_SECOND, UPLOAD_BURST, UPLOAD_RATE_PER_SECOND } from "./key-packages/limits.js";
import { requireActiveMembership } from "./messaging/access.js";
import type { MessagingContext } from "./messaging/context.js";
import { RateLimiter } from "./messaging/rate-limit.js";
import { SendBatcher } from "./messaging/send-batcher.js";
import { listenForMetrics, type MetricsListener } from "./metrics/endpoint.js";
import { setKnownMethods } from "./metrics/registry.js";
import { watchInstance } from "./metrics/sources.js";
import { ChatProtocols } from "./mls-chats/chat-protocols.js";
import type { MlsChatsContext } from "./mls-chats/context.js";
import { checkChatPayload } from "./mls-chats/payload-check.js";
import type { PrivacyContext } from "./privacy/context.js";
import { SharedRateLimiter } from "./privacy/limits/shared-limiter.js";
import { AckCoalescer } from "./realtime/acks.js";
import { EventBus } from "./realtime/bus.js";
import { CallSignaling } from "./realtime/calls.js";
import type { RealtimeContext } from "./realtime/context.js";
import { Hub } from "./realtime/hub.js";
import { Presence } from "./realtime/presence.js";
import { ReplayStarts } from "./realtime/replay-starts.js";
import { TypingRelay } from "./realtime/typing.js";
import { HealthState } from "./rpc/health.js";
import { useNodeTextEncoding } from "./rpc/text-encoding.js";
import { BoundedMap } from "./shared/bounded-map.js";
import { Semaphore } from "./shared/semaphore.js";

/** Proto files whose services this server answers (reflection describes these). */
export const SERVED_FILES: readonly DescFile[] = [
  file_cyphr_identity_v1_identity,
  file_cyphr_devices_v1_devices,
  file_cyphr_account_v1_account,
  file_cyphr_mls_v1_key_packages,
  file_cyphr_mls_v1_mls_chats,
  file_cyphr_messaging_v1_messaging,
  file_cyphr_groups_v1_groups,
  file_cyphr_realtime_v1_realtime,
  file_cyphr_privacy_v1_privacy,
  file_cyphr_attachments_v1_attachments,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
];
/** Application services, whose health is reported individually. */
const APPLICATION_SERVICES = [
  IdentityService,
  DevicesService,
  AccountService,
  KeyPackagesService,
  MlsChatsService,
  MessagingService,
  GroupsService,
  RealtimeService,
  AttachmentsService,
  PrivacyService,
].map((s) => s.typeName);
export const SERVED_SERVICES = [...APPLICATION_SERVICES, Health.typeName, ReflectionV1.typeName, ReflectionV1alpha.typeName];

/** Everything the RPC layer needs, built once: the composition root. */
export interface App {
  config: Config;
  log: Logger;
  pool: DatabasePool;
  identity: IdentityContext;
  devices: DevicesContext;
  account: AccountContext;
  keyPackages: KeyPackagesContext;
  mlsChats: MlsChatsContext;
  messaging: MessagingContext;
  groups: GroupsContext;
  realtime: RealtimeContext;
  privacy: PrivacyContext;
  attachments: AttachmentsContext;
  health: HealthState;
  /** Rate limits shared by every instance (src/privacy/limits). */
  rateLimiter: SharedRateLimiter;
  /** The periodic jobs (purges, retention); src/jobs/jobs.ts says how to register one. */
  jobs: Jobs;
  /** The separate metrics listener's port when METRICS_PORT is set; otherwise /metrics is on the main port. */
  metricsPort: number | undefined;
  /** True when the database answers and every known migration is applied. */
  checkReady(): Promise<boolean>;
  close(): Promise<void>;
}

/** What tests may replace: the clock jobs read. */
export interface AppOptions {
  clock?: Clock;
}

export async function createApp(config: Config, log: Logger, databaseUrl: string, options: AppOptions = {}): Promise<App> {
  useNodeTextEncoding();
  const pool = await createDatabasePool(databaseUrl, { maximumPoolSize: config.databasePoolSize, statementTimeoutMs: config.databaseStatementTimeoutMs });
  const keys = await loadServerKeys(config);
  // The attachment storage is checked first: a missing S3 bucket stops the start with its name.
  const attachments = createAttachments(config, pool, log);
  await attachments.store.open().catch(async (error: unknown) => {
    await attachments.store.close();
    await closeDatabasePool(pool);
    throw error;
  });
  const identity: IdentityContext = {
    pool,
    keys,
    accessTokens: new AccessTokens(keys, {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    }),
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    activeSessions: new ActiveSessions(),
  };
  const account = await createAccountContext(config, pool, identity);
  const devices: DevicesContext = {
    pool,
    fingerprintSecret: keys.fingerprintSecret,
    maxDevices: config.maxDevices,
    beginLimiter: new RateLimiter(config.deviceLinkBeginPerMinute / 60, config.deviceLinkBeginBurst),
    pendingLinksPerSource: config.deviceLinksPendingPerSource,
    sourcePolicy: config.deviceLinkSource,
    activeSessions: identity.activeSessions,
    waiters: new LinkWaiters(MAX_LINK_WAITERS),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
  };
  const keyPackages: KeyPackagesContext = {
    pool,
    ciphersuites: config.mlsCiphersuites,
    maxKeyPackages: config.maxKeyPackages,
    lowThreshold: config.keyPackagesLowThreshold,
    uploadLimiter: new RateLimiter(UPLOAD_RATE_PER_SECOND, UPLOAD_BURST),
    claimLimiter: new RateLimiter(CLAIM_RATE_PER_SECOND, CLAIM_BURST),
  };
  const sendLimiter = new RateLimiter(config.sendRatePerSecond, config.sendBurst);
  const mlsChats: MlsChatsContext = {
    pool,
    sendLimiter,
    ciphersuites: config.mlsCiphersuites,
    maxCommitBytes: config.messageMaxBytes,
    maxMembers: config.maxGroupMembers,
    protocols: new ChatProtocols(pool),
  };
  const recentSends = new RecentSends();
  const messaging: MessagingContext = {
    pool,
    maxPayloadBytes: config.messageMaxBytes,
    sendLimiter,
    sendBatcher: new SendBatcher(pool, log, recentSends),
    directChats: new BoundedMap(100_000),
    checkChatPayload: (chatId, payload, userId) =>
      checkChatPayload(mlsChats.protocols, chatId, payload, config.mlsEpochWindow, () => requireActiveMembership(pool, chatId, userId).then(() => undefined)),
  };
  const groups: GroupsContext = { pool, maxMembers: config.maxGroupMembers, sendLimiter };
  const hub = new Hub();
  // Replays for many reconnecting streams never take the whole pool from other calls.
  const replaySlots = new Semaphore(Math.max(1, Math.floor(config.databasePoolSize / 2)));
  const realtime: RealtimeContext = {
    pool,
    log,
    hub,
    bus: new EventBus(databaseUrl, pool, hub, log, identity.activeSessions, recentSends),
    presence: new Presence(pool, hub, randomUUID(), log, databaseUrl),
    typing: new TypingRelay(pool, log, config.typingExpiryMs),
    calls: new CallSignaling(pool, log, config.ringTimeoutMs),
    messaging,
    ice: { stunUrls: config.stunUrls, turnUrls: config.turnUrls, turnSecret: config.turnSecret, ttlSeconds: config.turnTtlSeconds },
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    streamBufferFrames: config.streamBufferFrames,
    streamBufferBytes: config.streamBufferBytes,
    streamsPerUser: config.streamsPerUser,
    replaySlots,
    replayStarts: new ReplayStarts(pool, replaySlots),
    acks: new AckCoalescer(pool, log, config.ackFlushMs),
  };
  identity.onPresenceSharingChanged = (userId, sharing) => realtime.presence.sharingChanged(userId, sharing);
  messaging.onPeerAccepted = mlsChats.onPeerAccepted = (userId, peerId) => realtime.presence.relationChanged(userId, peerId);
  const privacy: PrivacyContext = {
    pool,
    onPresenceSharingChanged: identity.onPresenceSharingChanged,
    onAudienceChanged: (userId, otherId) => realtime.presence.relationChanged(userId, otherId),
  };
  const rateLimiter = new SharedRateLimiter(pool, keys.fingerprintSecret);
  realtime.spendFrameLimit = (kind, userId) => rateLimiter.spend(config.rateLimits[kind], userId);
  await realtime.bus.start();
  await realtime.presence.start();
  realtime.calls.start();
  realtime.acks.start();
  const health = new HealthState(APPLICATION_SERVICES);
  const latestMigration = (await loadMigrations()).length;

  const readiness = new ReadinessProbe(pool, latestMigration, config.healthCheckTimeoutMs);
  const checkReady = () => readiness.check();

  const monitor = async () => health.set(await checkReady());
  await monitor();
  const healthTimer = setInterval(() => void monitor(), config.healthCheckIntervalMs);
  healthTimer.unref();
  const jobs = new Jobs(log, options.clock);
  registerJobs(jobs, pool, config);
  registerAttachmentJobs(jobs, attachments, config, log);
  registerAccountJobs(jobs, pool);
  jobs.start();
  setKnownMethods(SERVED_FILES.flatMap((file) => file.services.flatMap((service) => service.methods.map((m) => `${service.typeName}/${m.name}`))));
  const unwatch = watchInstance({ pool, busBacklog: () => realtime.bus.backlog });
  const metricsListener: MetricsListener | undefined = config.metricsPort === undefined ? undefined : await listenForMetrics(config.metricsPort, config.host);

  return {
    config,
    log,
    pool,
    identity,
    devices,
    account,
    keyPackages,
    mlsChats,
    messaging,
    groups,
    realtime,
    privacy,
    rateLimiter,
    attachments,
    health,
    jobs,
    metricsPort: metricsListener?.port,
    checkReady,
    async close() {
      clearInterval(healthTimer);
      unwatch();
      await metricsListener?.close();
      await jobs.stop();
      await attachments.store.close();
      realtime.calls.stop();
      realtime.typing.stop();
      await realtime.presence.stop().catch(() => undefined);
      await realtime.bus.stop();
      await realtime.acks.stop();
      health.set(false);
      if (!(await closeDatabasePool(pool))) log.warn("database pool did not close in time; leaving its connections to the OS");
    },
  };
}
