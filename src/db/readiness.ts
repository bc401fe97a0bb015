import { sql } from "slonik";
import { z } from "zod";
import type { DatabasePool } from "./pool.js";

/**
 * Asks the database whether it answers and has every known migration applied, and gives
 * up after `timeoutMs`: a database that hangs (a wedged pool, a lock, a half-open socket)
 * reads as not ready instead of hanging its callers. At most one probe query is
 * outstanding: callers arriving while it runs share it, and a query that outlived its
 * timeout is not repeated until it settles, so a flood of readiness checks cannot queue
 * work on the pool.
 */
export class ReadinessProbe {
  private outstanding: Promise<boolean> | undefined;

  constructor(
    private readonly pool: DatabasePool,
    private readonly latestMigration: number,
    private readonly timeoutMs: number,
  ) {}

  check(): Promise<boolean> {
    this.outstanding ??= this.query().finally(() => {
      this.outstanding = undefined;
    });
    return answerWithin(this.outstanding, this.timeoutMs);
  }

  private async query(): Promise<boolean> {
    try {
      const version = await this.pool.oneFirst(sql.type(z.object({ version: z.number().nullable() }))`
        /* latestAppliedMigration */ SELECT max(version) AS version FROM schema_migrations`);
      return version === this.latestMigration;
    } catch {
      return false;
    }
  }
}

/** `answer`, or false once `ms` have passed without one. */
function answerWithin(answer: Promise<boolean>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void answer.then((ready) => {
      clearTimeout(timer);
      resolve(ready);
    });
  });
}
