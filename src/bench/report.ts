import type { CpuFigures, CpuPerMessage } from "./cpu.js";
import type { BenchOptions } from "./options.js";
import type { MachineInfo } from "./proc.js";
import type { AttachmentsResult } from "./scenario-attachments.js";
import type { LatencyResult } from "./scenario-latency.js";
import type { ReconnectsResult } from "./scenario-reconnects.js";
import type { StartupResult } from "./scenario-startup.js";
import type { StreamsResult } from "./scenario-streams.js";
import type { ThroughputResult } from "./scenario-throughput.js";
import { checkTargets } from "./targets.js";
import type { DeliverySummary } from "./tracker.js";

export interface BenchResults {
  startedAt: string;
  command: string;
  commit: string;
  machine: MachineInfo;
  postgres: string;
  options: BenchOptions;
  /** Share of the machine busy during 2 s before the run (other work disturbs every figure), %. */
  busyBeforePercent: number;
  /** Of which stolen by the hypervisor, %. */
  stealBeforePercent: number;
  /** First start on the fresh data folder (initialises PostgreSQL when embedded), ms. */
  firstStartMs: number;
  throughput: ThroughputResult[];
  latency: LatencyResult[];
  streams: StreamsResult | undefined;
  reconnects: ReconnectsResult | undefined;
  startup: StartupResult | undefined;
  attachments: AttachmentsResult | undefined;
  /** Scenarios that could not run, with why. */
  errors: string[];
  /** Lost or duplicated messages, missing pushes, failed streams, scenario errors. */
  failures: string[];
}

const color = process.stdout.isTTY || process.env.FORCE_COLOR !== undefined;
const paint = (code: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
export const red = paint(31);
export const green = paint(32);
export const bold = paint(1);
export const dim = paint(2);

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => visible(r[c] ?? "").length)));
  const line = (r: string[]) => `  ${r.map((cell, c) => cell + " ".repeat(widths[c]! - visible(cell).length)).join("  ")}`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n");
}

const visible = (s: string) => s.replace(/\x1b\[\d+m/g, "");
const n = (x: number) => x.toLocaleString("en-US");
const count = (x: number) => (x === 0 ? "0" : red(n(x)));
const cpu = (c: CpuFigures) => [
  `${c.serverSeconds}s (${pct(c.serverSeconds, c.windowSeconds)})`,
  `${c.postgresSeconds}s (${pct(c.postgresSeconds, c.windowSeconds)})`,
  `${c.loadgenSeconds}s (${pct(c.loadgenSeconds, c.windowSeconds)}; busiest process ${c.loadgenBusiestPercent}%)`,
  `${c.machineBusyPercent}% (steal ${c.machineStealPercent}%)`,
  noisy(c) ? red(`${c.otherSeconds}s (${pct(c.otherSeconds, c.windowSeconds)})`) : `${c.otherSeconds}s`,
];
/** Other processes used more than 10% of a core: the window's figures are disturbed. */
const noisy = (c: CpuFigures) => c.otherSeconds > 0.1 * c.windowSeconds;
const pct = (seconds: number, window: number) => `${Math.round((seconds / Math.max(window, 1e-9)) * 100)}%`;
const perMsg = (c: CpuPerMessage) => `${c.serverMs} + ${c.postgresMs}`;
const errors = (d: DeliverySummary) => (d.errors === 0 ? "0" : red(`${n(d.errors)} ${Object.keys(d.errorKinds).join(",")}`));
const CPU_HEADERS = ["server CPU", "postgres CPU", "loadgen CPU", "machine busy", "other procs"];

export function formatReport(r: BenchResults): string {
  const out: string[] = [];
  const o = r.options;
  out.push(bold("Cyphr benchmark"));
  out.push(`  ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.postgres}`);
  out.push(`  commit ${r.commit}; ${r.command}`);
  const busy = `  machine busy before the run: ${r.busyBeforePercent}% (other work on this machine), steal ${r.stealBeforePercent}%`;
  out.push(r.busyBeforePercent > 5 ? red(busy) : dim(busy));
  out.push(dim(`  server, PostgreSQL and load generator share these ${r.machine.cores} cores; CPU columns are seconds of CPU in the window and % of one core`));
  out.push(
    dim(
      `  payload: ${o.payloadBytes}-byte ciphertext + 24-byte nonce + 16-byte tag${o.kemFirst ? " + 1568-byte ML-KEM-1024 ciphertext" : ""}; ${o.instances} server instance(s), STREAM_ENGINE=${o.streamEngine}; first start on the fresh data folder ${n(r.firstStartMs)} ms`,
    ),
  );

  if (r.throughput.length > 0) {
    const t0 = r.throughput[0]!;
    out.push("", bold(`1. Throughput — ${t0.pairs} pairs, closed loop, ${t0.inFlightPerSender} in flight per sender, ${t0.seconds} s per mode`));
    out.push(
      table(
        [
          "send path",
          "accepted/s",
          "delivered/s",
          "accepted",
          "delivered",
          "lost",
          "dup",
          "send errors",
          "drain s",
          "CPU ms/msg server+pg",
          "loadgen ms/msg",
          ...CPU_HEADERS,
        ],
        r.throughput.map((t) => [
          t.mode === "unary" ? "unary SendMessage" : "frames on Connect",
          n(t.acceptedPerSecond),
          n(t.deliveredPerSecond),
          n(t.delivery.accepted),
          n(t.delivery.delivered),
          count(t.delivery.lost),
          count(t.delivery.duplicated),
          errors(t.delivery),
          t.drainSeconds,
          perMsg(t.cpuPerMessage),
          t.cpuPerMessage.loadgenMs,
          ...cpu(t.cpu),
        ]),
      ),
    );
  }
  if (r.latency.length > 0) {
    const l0 = r.latency[0]!;
    out.push("", bold(`2. Latency — open loop, ${l0.seconds} s per run, ${l0.pairs} pairs; scheduled send → recipient's stream (ms)`));
    out.push(
      table(
        [
          "send path",
          "rate/s",
          "messages",
          "p50",
          "p90",
          "p99",
          "p99.9",
          "max",
          "accept p50/p99",
          "gen lag max",
          "lost",
          "dup",
          "send errors",
          "CPU ms/msg server+pg",
          "loadgen ms/msg",
          ...CPU_HEADERS,
        ],
        r.latency.map((l) => [
          l.mode === "unary" ? "unary SendMessage" : "frames on Connect",
          n(l.rate),
          n(l.scheduled),
          l.sendToReceive.p50,
          l.sendToReceive.p90,
          l.sendToReceive.p99,
          l.sendToReceive.p999,
          l.sendToReceive.max,
          `${l.sendToAccept.p50} / ${l.sendToAccept.p99}`,
          l.maxSendLagMs,
          count(l.delivery.lost),
          count(l.delivery.duplicated),
          errors(l.delivery),
          perMsg(l.cpuPerMessage),
          l.cpuPerMessage.loadgenMs,
          ...cpu(l.cpu),
        ]),
      ),
    );
  }
  if (r.streams) {
    const s = r.streams;
    const m = s.memory;
    out.push(
      "",
      bold(
        `3. Live streams — ${n(s.streams)} authenticated Connect streams of ${n(s.users)} users over ${s.connections} HTTP/2 connections, one instance; ${s.loadgenProcesses} load-generator process(es)`,
      ),
    );
    out.push(
      table(
        [
          "opened",
          "open s",
          "loadgen RSS MiB",
          "server RSS MiB before → after",
          "heap MiB before → after",
          "RSS/stream",
          "heap/stream",
          "external/stream",
          "open CPU ms/stream server+pg",
          "loadgen ms/stream",
          ...CPU_HEADERS.map((h) => `open: ${h}`),
        ],
        [
          [
            s.opened === s.streams ? n(s.opened) : red(n(s.opened)),
            s.openSeconds,
            s.clientRssMiB,
            `${m.rssBeforeMiB} → ${m.rssAfterMiB}`,
            `${m.heapUsedBeforeMiB} → ${m.heapUsedAfterMiB}`,
            `${n(m.rssPerStreamBytes)} B`,
            `${n(m.heapPerStreamBytes)} B`,
            `${n(m.externalPerStreamBytes)} B`,
            perMsg(s.openCpuPerStream),
            s.openCpuPerStream.loadgenMs,
            ...cpu(s.openCpu),
          ],
        ],
      ),
    );
    const p = s.push;
    out.push(
      table(
        ["push: arrived", "missing", "dup", "accept ms", "first ms", "p50 ms", "p99 ms", "last ms", "streams/s", "loadgen ms/stream", ...CPU_HEADERS],
        [
          [
            `${n(p.arrived)}/${n(s.opened)}`,
            count(p.missing),
            count(p.duplicated),
            p.acceptMs,
            p.firstMs,
            p.p50Ms,
            p.p99Ms,
            p.lastMs,
            n(p.streamsPerSecond),
            s.pushCpuPerStream.loadgenMs,
            ...cpu(s.pushCpu),
          ],
        ],
      ),
    );
    out.push(
      dim(`  projected RSS for 100,000 streams: ${n(Math.round(m.rssBeforeMiB + (m.rssPerStreamBytes * 100_000) / 2 ** 20))} MiB (linear from this run)`),
    );
  }
  if (r.reconnects) {
    const c = r.reconnects;
    out.push(
      "",
      bold(
        `5. Reconnect storm — ${n(c.recipients)} recipients on Connect streams, ${n(c.sendRate)} unary sends/s to them; ${c.seconds} s steady, then ${c.seconds} s with ${n(c.reconnectRate)} resumes/s`,
      ),
    );
    out.push(
      table(
        [
          "window",
          "send p50 ms",
          "send p99 ms",
          "resumes",
          "resumes/s",
          "resume p50 ms",
          "resume p99 ms",
          "CPU ms/resume server+pg",
          "loadgen ms/resume",
          ...CPU_HEADERS,
        ],
        [
          ["steady", c.steady.sendMs.p50, c.steady.sendMs.p99, "", "", "", "", "", "", ...cpu(c.steady.cpu)],
          [
            "storm",
            c.storm.sendMs.p50,
            c.storm.sendMs.p99,
            n(c.storm.reconnects),
            c.storm.reconnectsPerSecond,
            c.storm.resumeMs.p50,
            c.storm.resumeMs.p99,
            perMsg(c.storm.cpuPerReconnectMs),
            c.storm.cpuPerReconnectMs.loadgenMs,
            ...cpu(c.storm.cpu),
          ],
          [
            `resume only (${c.resume.backlog} missed each)`,
            "",
            "",
            n(c.resume.resumes),
            "",
            c.resume.resumeMs.p50,
            c.resume.resumeMs.p99,
            perMsg(c.resume.cpuPerResumeMs),
            c.resume.cpuPerResumeMs.loadgenMs,
            ...cpu(c.resume.cpu),
          ],
        ],
      ),
    );
    out.push(
      dim(
        `  ${n(c.sent)} sent; lost ${c.lost}, duplicated ${c.duplicated}, cursor gaps/repeats at resumes ${c.cursorErrors}, failed streams ${c.streamErrors}; CPU per resume: storm = storm window − steady window; resume only = the window's own`,
      ),
    );
  }
  if (r.startup) {
    const s = r.startup;
    out.push(
      "",
      bold(`6. Start-up — launch → grpc.health.v1 SERVING on the existing data folder${s.embeddedPostgres ? " (embedded PostgreSQL start included)" : ""}`),
    );
    out.push(
      table(
        ["runs (ms)", "median ms", "max ms", "in-process ms (main → listening)", "shutdown ms"],
        [[s.runsMs.join(", "), s.medianMs, s.maxMs, s.inProcessMs.map((x) => x ?? "?").join(", "), s.shutdownMs]],
      ),
    );
  }
  if (r.attachments) {
    const a = r.attachments;
    out.push(
      "",
      bold(
        `6b. Attachments — one ${a.sizeMiB} MiB attachment: upload ${a.uploadMiBPerSecond} MiB/s (CompleteUpload's re-hash ${a.completeMs} ms), then GetAttachment`,
      ),
    );
    out.push(
      table(
        ["reader", "seconds", "MiB/s", "server RSS MiB (before → peak → after)", "heap MiB (before → peak)", "external MiB (before → peak → after)", "intact"],
        a.downloads.map((d) => [
          d.reader,
          d.seconds,
          d.mibPerSecond,
          `${d.rssBeforeMiB} → ${d.rssPeakMiB} → ${d.rssAfterMiB}`,
          `${d.heapBeforeMiB} → ${d.heapPeakMiB}`,
          `${d.externalBeforeMiB} → ${d.externalPeakMiB} → ${d.externalAfterMiB}`,
          d.intact ? "yes" : red("NO"),
        ]),
      ),
    );
    out.push(dim("  peak − before is what streaming the attachment cost the server: flat means it never held the file"));
  }
  const windows = [
    ...r.throughput.map((t) => t.cpu),
    ...r.latency.map((l) => l.cpu),
    ...(r.streams ? [r.streams.openCpu, r.streams.pushCpu] : []),
    ...(r.reconnects ? [r.reconnects.steady.cpu, r.reconnects.storm.cpu, r.reconnects.resume.cpu] : []),
  ];
  if (windows.some(noisy))
    out.push(
      "",
      red("  Other processes on this machine used CPU during the marked windows (other procs): those figures are disturbed; rerun on a quiet machine."),
    );
  const samples = [...r.throughput, ...r.latency].flatMap((t) => Object.entries(t.delivery.errorSamples).map(([k, m]) => `${t.mode}: ${k}: ${m}`));
  for (const s of new Set(samples)) out.push(red(`  send error: ${s}`));
  out.push("", bold("7. Correctness"));
  for (const e of r.errors) out.push(red(`  scenario error: ${e}`));
  if (r.failures.length === 0) out.push(green("  OK: 0 lost, 0 duplicated messages in every scenario"));
  else for (const f of r.failures) out.push(red(`  FAIL: ${f}`));
  out.push("", bold("8. Targets of the realtime engine (docs/benchmarks.md)"));
  out.push(
    table(
      ["target", "this run", ""],
      checkTargets(r).map((t) => [
        t.target,
        t.measured ?? dim("no reading in this run's shape"),
        t.met === undefined ? "" : t.met ? green("met") : red("not met"),
      ]),
    ),
  );
  return out.join("\n");
}

/** Everything that makes the run fail: lost or duplicated messages, missing pushes, broken streams. */
export function findFailures(r: BenchResults): string[] {
  const failures: string[] = [];
  for (const t of [...r.throughput, ...r.latency]) {
    const name = "rate" in t ? `latency/${t.mode}@${t.rate}` : `throughput/${t.mode}`;
    if (t.delivery.lost > 0) failures.push(`${name}: ${t.delivery.lost} accepted messages never arrived`);
    if (t.delivery.duplicated > 0) failures.push(`${name}: ${t.delivery.duplicated} messages arrived more than once on one stream`);
    if (t.streamErrors.length > 0) failures.push(`${name}: ${t.streamErrors.length} streams failed: ${t.streamErrors[0]}`);
  }
  const s = r.streams;
  if (s) {
    if (s.opened < s.streams) failures.push(`streams: only ${s.opened} of ${s.streams} opened`);
    if (s.push.missing > 0) failures.push(`streams: the pushed message did not reach ${s.push.missing} streams`);
    if (s.push.duplicated > 0) failures.push(`streams: the pushed message arrived twice on ${s.push.duplicated} streams`);
    if (s.streamErrors.length > 0) failures.push(`streams: ${s.streamErrors.length} streams failed: ${s.streamErrors[0]}`);
  }
  const c = r.reconnects;
  if (c) {
    if (c.lost > 0) failures.push(`reconnects: ${c.lost} accepted messages never arrived`);
    if (c.duplicated > 0) failures.push(`reconnects: ${c.duplicated} messages arrived more than once`);
    if (c.cursorErrors > 0) failures.push(`reconnects: ${c.cursorErrors} durable frames out of cursor order (a gap or a repeat at a resume)`);
    if (c.streamErrors > 0) failures.push(`reconnects: ${c.streamErrors} streams failed`);
  }
  for (const d of r.attachments?.downloads ?? []) if (!d.intact) failures.push(`attachments: the ${d.reader} download did not hash to what was uploaded`);
  for (const e of r.errors) failures.push(`scenario error: ${e.split("\n")[0]}`);
  return failures;
}
