import type { Logger } from "pino";

/**
 * Every `intervalMs`, calls `purge(batch)` until it deletes fewer rows than `batch`, one
 * run at a time; logs how many rows went (as `what`) or why a run failed.
 */
export function startBatchSweeper(what: string, intervalMs: number, log: Logger, purge: (batch: number) => Promise<number>, batch = 1000): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    (async () => {
      let total = 0;
      for (let purged = batch; purged === batch; total += purged) purged = await purge(batch);
      if (total > 0) log.info({ purged: total }, `${what} purged`);
    })()
      .catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, `${what} sweep failed`))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
