/**
 * Calls `purge(batch)` until it affects fewer rows than `batch`; returns the total. Each
 * call is one bounded statement, so a large backlog never holds locks for long.
 */
export async function inBatches(batch: number, purge: (batch: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const affected = await purge(batch);
    total += affected;
    if (affected < batch) return total;
  }
}
