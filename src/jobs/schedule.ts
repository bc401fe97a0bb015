import type { DatabasePool } from "slonik";
import type { Config } from "../config.js";
import { deleteExpiredLinks } from "../devices/link-repo.js";
import { pruneEvents } from "../events/log.js";
import { deleteEndedSessions, deleteExpiredChallenges } from "../identity/session-repo.js";
import { purgeKeyPackages } from "../key-packages/repo.js";
import { purgeExpired as purgeExpiredMessages, purgeOlderThan } from "../messaging/repo.js";
import { purgeWelcomes } from "../mls-chats/repo.js";
import { deleteIdleBuckets } from "../privacy/limits/bucket-repo.js";
import { deleteOldCalls } from "../realtime/calls-repo.js";
import { inBatches } from "./batches.js";
import type { Jobs } from "./jobs.js";

/** Rows one purge statement deletes at most. */
const BATCH = 1000;
const MINUTE = 60_000;

/**
 * The server's own periodic jobs. Each deletes what no read path shows any more; reads
 * never depend on a job having run (expired rows are already invisible), jobs only stop
 * the server from keeping them.
 */
export function registerJobs(jobs: Jobs, pool: DatabasePool, config: Config): void {
  const batched = (purge: (now: Date, batch: number) => Promise<number>) => (now: Date) => inBatches(BATCH, (batch) => purge(now, batch));
  jobs.register({
    name: "messaging.expired-messages",
    intervalMs: config.sweepIntervalMs,
    run: batched((now, batch) => purgeExpiredMessages(pool, now, batch)),
  });
  jobs.register({ name: "identity.login-challenges", intervalMs: MINUTE, run: batched((now, batch) => deleteExpiredChallenges(pool, now, batch)) });
  jobs.register({ name: "devices.expired-links", intervalMs: MINUTE, run: batched((now, batch) => deleteExpiredLinks(pool, now, batch)) });
  jobs.register({ name: "key-packages.expired", intervalMs: 10 * MINUTE, run: batched((now, batch) => purgeKeyPackages(pool, now, batch)) });
  jobs.register({ name: "mls.old-welcomes", intervalMs: 10 * MINUTE, run: batched((now, batch) => purgeWelcomes(pool, now, batch)) });
  jobs.register({
    name: "events.retention",
    intervalMs: 10 * MINUTE,
    run: batched((now, batch) => pruneEvents(pool, now, config.eventRetentionDays, batch)),
  });
  jobs.register({ name: "identity.ended-sessions", intervalMs: 10 * MINUTE, run: batched((now, batch) => deleteEndedSessions(pool, now, batch)) });
  jobs.register({
    name: "realtime.call-records",
    intervalMs: 10 * MINUTE,
    run: batched((now, batch) => deleteOldCalls(pool, now, config.callRecordRetentionDays, batch)),
  });
  const messageRetentionDays = config.messageRetentionDays;
  if (messageRetentionDays !== undefined) {
    jobs.register({
      name: "messaging.retention",
      intervalMs: 10 * MINUTE,
      run: batched((now, batch) => purgeOlderThan(pool, now, messageRetentionDays, batch)),
    });
  }
  jobs.register({ name: "privacy.idle-rate-buckets", intervalMs: 10 * MINUTE, run: batched((now, batch) => deleteIdleBuckets(pool, now, batch)) });
}
