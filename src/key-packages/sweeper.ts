import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { purgeKeyPackages } from "./repo.js";

const BATCH = 1000;

/** Every `intervalMs`, deletes expired key packages and claimed rows past the Welcome routing window. */
export function startKeyPackageSweeper(pool: DatabasePool, intervalMs: number, log: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    (async () => {
      let total = 0;
      for (let purged = BATCH; purged === BATCH; total += purged) purged = await purgeKeyPackages(pool, BATCH);
      if (total > 0) log.info({ purged: total }, "key packages purged");
    })()
      .catch((err: unknown) => log.warn({ err: { message: (err as Error).message } }, "key package sweep failed"))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
