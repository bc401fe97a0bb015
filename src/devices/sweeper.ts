import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { deleteExpiredLinks } from "./link-repo.js";

const BATCH = 1000;

/** Deletes expired device links (pending or approved but never collected) in batches. */
export async function sweepExpiredLinks(pool: DatabasePool): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteExpiredLinks(pool, BATCH);
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** Runs the link sweeper every `intervalMs` (never overlapping itself) until the returned function is called. */
export function startLinkSweeper(pool: DatabasePool, intervalMs: number, log: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredLinks(pool)
      .then((deleted) => deleted > 0 && log.info({ deleted }, "expired device links deleted"))
      .catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, "device link sweep failed"))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
