/** A one-line progress bar on stderr for file transfers: bytes done, rate, time left. */

const WIDTH = 24;
/** Redraw at most this often, in milliseconds (the final 100 % line always shows). */
const REDRAW_MS = 100;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const total = Math.ceil(s);
  return total >= 60 ? `${Math.floor(total / 60)}m${String(total % 60).padStart(2, "0")}s` : `${total}s`;
}

/** The bar's text for `bytes` of `total` after `elapsedMs`. */
export function progressLine(label: string, bytes: number, total: number, elapsedMs: number): string {
  const share = total === 0 ? 1 : Math.min(1, bytes / total);
  const filled = Math.round(share * WIDTH);
  const rate = elapsedMs > 0 ? (bytes / elapsedMs) * 1000 : 0;
  const left = rate > 0 ? (total - bytes) / rate : Number.POSITIVE_INFINITY;
  return `${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%  ${formatBytes(bytes)} of ${formatBytes(total)}  ${formatBytes(Math.round(rate))}/s  ${formatSeconds(left)} left`;
}

/** Draws on a terminal in place (\r); elsewhere (a log, a test) only the final line, once. */
export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(bytes: number, total: number): void {
    if (this.finished) return;
    const now = performance.now();
    const done = bytes >= total;
    if (!done && (!this.stream.isTTY || now - this.lastDraw < REDRAW_MS)) return;
    this.lastDraw = now;
    const line = progressLine(this.label, bytes, total, now - this.started);
    this.stream.write(this.stream.isTTY ? `\r${line}\x1b[K${done ? "\n" : ""}` : `${line}\n`);
    if (done) this.finished = true;
  }
}
