import { FrameEvent, type FrameFacts } from "./frame-codec.js";
import { FrameStream } from "./frame-stream.js";
import { H2Connection } from "./h2-client.js";
import type { Role } from "./worker.js";
import type { StreamsTask } from "./worker-protocol.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Milliseconds on CLOCK_MONOTONIC, which every process on this machine shares. */
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * Holds many authenticated Connect streams over a few HTTP/2 connections (raw HTTP/2
 * client: an idle stream costs the generator no promise or iterator), then waits for one
 * pushed message on every stream and reports when each arrived.
 */
export function streamsRole(task: StreamsTask): Role {
  const streams: FrameStream[] = [];
  const connections: H2Connection[] = [];
  const arrivals = new Float64Array(task.tokens.length).fill(Number.NaN);
  const errors: string[] = [];
  let target: string | undefined;
  let opened = 0;
  let arrived = 0;
  let duplicates = 0;

  const onFrame = (index: number) => (frame: FrameFacts) => {
    if (frame.event !== FrameEvent.messageNew || target === undefined || frame.clientMessageId !== target) return;
    if (!Number.isNaN(arrivals[index]!)) {
      duplicates++;
      return;
    }
    arrivals[index] = monotonicMs();
    arrived++;
  };

  return {
    async prepare() {
      const t0 = performance.now();
      for (let c = 0; c < task.connections; c++) connections.push(new H2Connection(task.baseUrl));
      let next = 0;
      const opener = async () => {
        for (let i = next++; i < task.tokens.length; i = next++) {
          const stream = new FrameStream(connections[i % connections.length]!, task.tokens[i]!, onFrame(i));
          streams[i] = stream;
          void stream.ended.then((error) => {
            if (error && errors.length < 20) errors.push(error.message.slice(0, 200));
          });
          await stream.caughtUp;
          opened++;
        }
      };
      await Promise.all(Array.from({ length: task.openConcurrency }, opener));
      return { opened, openSeconds: (performance.now() - t0) / 1000, rss: process.memoryUsage().rss };
    },
    async start(args, started) {
      target = args!.clientMessageId!;
      started();
      const deadline = performance.now() + args!.timeoutMs!;
      while (arrived < streams.length && performance.now() < deadline) await sleep(5);
      await sleep(200); // late duplicates
      return {
        arrivals: Array.from(arrivals).filter((t) => !Number.isNaN(t)),
        missing: streams.length - arrived,
        duplicates,
      };
    },
    async finish() {
      const failed = errors.length;
      for (const stream of streams) stream.close();
      for (const c of connections) c.close();
      return { streamErrors: errors, failedBeforeClose: failed };
    },
    progress() {
      return { opened, arrived };
    },
  };
}
