import type { Fleet } from "./fleet.js";
import { note } from "./progress.js";

export interface StartupResult {
  /** Launch → grpc.health.v1 SERVING on the existing data folder, ms, one per run. */
  runsMs: number[];
  /** The server's own startupMs log field (main() entered → listening): the rest is Node, tsx and module loading. */
  inProcessMs: (number | null)[];
  medianMs: number;
  maxMs: number;
  /** SIGTERM → exit of the server that ran the other scenarios, ms. */
  shutdownMs: number;
  /** True when the server started its embedded PostgreSQL (included in the time). */
  embeddedPostgres: boolean;
}

/** Scenario 4: stop the server, then start it again on the same data folder, `runs` times. */
export async function runStartup(fleet: Fleet, runs: number): Promise<StartupResult> {
  const stopped = await fleet.stopAll();
  const runsMs: number[] = [];
  const inProcessMs: (number | null)[] = [];
  for (let i = 0; i < runs; i++) {
    const server = await fleet.startFirst("info");
    for (let t = 0; t < 100 && server.inProcessStartupMs === undefined; t++) await new Promise((r) => setTimeout(r, 10));
    runsMs.push(Math.round(server.startupMs));
    inProcessMs.push(server.inProcessStartupMs ?? null);
    note(`  start-up ${i + 1}/${runs}: ${Math.round(server.startupMs)} ms to SERVING`);
    await fleet.stopAll();
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  return {
    runsMs,
    inProcessMs,
    medianMs: sorted[Math.floor(sorted.length / 2)]!,
    maxMs: sorted[sorted.length - 1]!,
    shutdownMs: Math.round(stopped[0] ?? 0),
    embeddedPostgres: fleet.embedded,
  };
}
