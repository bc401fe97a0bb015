import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { purgeExpired } from "./repo.js";

const BATCH = 1000;

/**
 * Deletes expired messages in batches. Expired messages are already invisible to every
 * read path; the sweeper removes their ciphertext and metadata from the database.
 */
export async function sweepExpiredMessages(pool: DatabasePool): Promise<number> {
  let total = 0;
  for (;;) {
    const purged = await purgeExpired(pool, BATCH);
    total += purged;
    if (purged < BATCH) return total;
  }
}

/** Runs the sweeper every `intervalMs` until the returned function is called. */
export function startSweeper(pool: DatabasePool, intervalMs: number, log: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredMessages(pool)
      .then((purged) => purged > 0 && log.info({ purged }, "expired messages purged"))
      .catch((err: unknown) => log.warn({ err }, "message sweep failed"))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
