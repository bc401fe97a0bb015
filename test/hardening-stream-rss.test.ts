import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase } from "./helpers/database.js";
import { participants, randomPayload, sendTo } from "./helpers/messaging.js";
import { type ServerProcess, spawnServer } from "./helpers/process.js";
import { sleep } from "./helpers/realtime.js";
import { expectAnotherClientAnswered, stalledSubscribe } from "./helpers/stalled-stream.js";

/**
 * The server's own RSS, read from /proc while greedy clients hold it: streams that replay a
 * 12 MB backlog to clients that never read keep the server process under a stated bound, and
 * another client is still answered. The server runs as `npm start` runs it, in its own process.
 */

const MIB = 1024 * 1024;
const STREAMS = 40;
const BUFFER_BYTES = 256 * 1024;
const MESSAGE_BYTES = 60 * 1024;

let server: ServerProcess;
beforeAll(async () => {
  server = await spawnServer({
    DATABASE_URL: await createTestDatabase(),
    LOG_LEVEL: "warn",
    STREAM_BUFFER_BYTES: String(BUFFER_BYTES),
    STREAM_BUFFER_FRAMES: "1000000",
    STREAM_MAX_PER_USER: String(STREAMS),
    SEND_RATE_PER_SECOND: "1000000",
    SEND_BURST: "1000000",
  });
  await server.waitUntilReady();
});
afterAll(() => server.kill());

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

it(`${STREAMS} stalled replays of a 12 MB backlog add less than ${STREAMS} × (budget + one replay chunk) + 64 MiB to the server's RSS, and another client is answered`, async () => {
  const [alice, bob, carol] = await participants(server.baseUrl, 3);
  for (let i = 0; i < 200; i++) await sendTo(alice, bob, randomPayload(MESSAGE_BYTES));
  const pid = server.child.pid!;
  await sleep(500);
  const before = rssBytes(pid);

  const streams = Array.from({ length: STREAMS }, () => stalledSubscribe(server.baseUrl, bob.accessToken, 0n));
  // Unbounded, each replay would load and hold the whole backlog: 40 × 12 MB.
  let peak = before;
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    peak = Math.max(peak, rssBytes(pid));
  }
  await expectAnotherClientAnswered(server.baseUrl, alice, carol);
  peak = Math.max(peak, rssBytes(pid));

  const bound = STREAMS * (BUFFER_BYTES + 16 * (MESSAGE_BYTES + 1024)) + 64 * MIB;
  expect(peak - before, `RSS grew ${Math.round((peak - before) / MIB)} MiB`).toBeLessThan(bound);
  expect(streams.some((s) => s.isClosed())).toBe(false);
  for (const s of streams) s.leave();
});
