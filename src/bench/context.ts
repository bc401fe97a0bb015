import type { Transport } from "@connectrpc/connect";
import type { BenchOptions } from "./options.js";
import { note } from "./progress.js";
import type { ServerProcess } from "./server-process.js";
import { registerUsers, runTag } from "./users.js";
import type { PairSpec } from "./worker-pairs.js";

/** What every scenario needs: the options, the running server instances, a setup connection. */
export interface BenchContext {
  options: BenchOptions;
  servers: ServerProcess[];
  /** True when the first server runs the embedded PostgreSQL. */
  embedded: boolean;
  /** Connection to the first instance, for setup calls (registration, groups). */
  setup: Transport;
}

/**
 * Registers 2·P fresh users (setup, not measured) and pairs them: with several instances,
 * pair i's sender talks to instance i and its recipient listens on instance i+1, so every
 * delivery crosses instances through PostgreSQL's NOTIFY.
 */
export async function makePairs(ctx: BenchContext, label: string): Promise<PairSpec[]> {
  const count = ctx.options.pairs;
  note(`  registering ${count * 2} users for ${label}`);
  const users = await registerUsers(ctx.setup, `b${runTag()}`, count * 2);
  const urls = ctx.servers.map((s) => s.baseUrl);
  return Array.from({ length: count }, (_, i) => ({
    sender: users[2 * i]!,
    recipient: users[2 * i + 1]!,
    senderUrl: urls[i % urls.length]!,
    recipientUrl: urls[(i + 1) % urls.length]!,
  }));
}
