import { type Cluster, endOrphanedBackends, type Postmaster, startPostmaster, stopPostmaster } from "./postmaster.js";

/** A postmaster that has run this long has recovered: the restart budget is whole again. */
const STABLE_AFTER_MS = 60_000;
/** Wait before restart attempt n: 0.5 s, 1 s, 2 s, … at most 10 s. */
const backoffMs = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 10_000);

export interface Supervisor {
  /** Settles when `restarts` attempts in a row failed (or died within a minute). */
  lost: Promise<Error>;
  /** Stops the current postmaster (and any restart under way) for good. */
  stop(): Promise<void>;
  /** Synchronous last resort on process exit: ask the postmaster for a fast shutdown. */
  signalOnExit(): void;
}

/**
 * Watches the postmaster; when it dies without being asked to, ends the backends it
 * left, and starts a new one on the same port (so the pool and the event bus reconnect
 * to the same URL), logging each step. After `restarts` attempts without a postmaster
 * that stays up for a minute, `lost` settles and no further attempt is made.
 */
export function superviseRestarts(cluster: Cluster, first: Postmaster, port: number, limits: { restarts: number; stopTimeoutMs: number }): Supervisor {
  const { log } = cluster;
  let current = first;
  let startedAt = Date.now();
  let attemptsUsed = 0;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let giveUp!: (error: Error) => void;
  const lost = new Promise<Error>((resolve) => (giveUp = resolve));

  const restart = async (dead: Postmaster) => {
    if (Date.now() - startedAt >= STABLE_AFTER_MS) attemptsUsed = 0;
    await endOrphanedBackends(dead.pid);
    while (!stopping) {
      if (attemptsUsed >= limits.restarts) {
        log.fatal({ restarts: limits.restarts }, "embedded PostgreSQL could not be restarted; giving up");
        giveUp(new Error(`embedded PostgreSQL died and ${limits.restarts} restarts did not bring it back`));
        return;
      }
      attemptsUsed++;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attemptsUsed)));
      if (stopping) return;
      try {
        current = await startPostmaster(cluster, port);
        startedAt = Date.now();
        log.info({ attempt: attemptsUsed, port, pid: current.pid }, "embedded PostgreSQL restarted");
        watch(current);
        return;
      } catch (error) {
        log.error({ attempt: attemptsUsed, port, err: { message: (error as Error).message } }, "embedded PostgreSQL restart failed");
      }
    }
  };

  const watch = (postmaster: Postmaster) => {
    void postmaster.exited.then((exit) => {
      if (stopping) return;
      log.error({ pid: postmaster.pid, ...exit }, "embedded PostgreSQL exited unexpectedly; restarting it on the same port");
      restarting = restart(postmaster).finally(() => (restarting = undefined));
    });
  };
  watch(first);

  return {
    lost,
    async stop() {
      stopping = true;
      await restarting;
      await stopPostmaster(current, limits.stopTimeoutMs);
    },
    signalOnExit() {
      if (stopping) return;
      try {
        process.kill(current.pid, "SIGINT");
      } catch {
        // Gone already.
      }
    },
  };
}
