/**
 * One progress line on stderr, refreshed once per second: rewritten in place (\r) on a
 * terminal, a new line every 5 seconds otherwise (CI logs).
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();
  private ticks = 0;

  constructor(
    private readonly label: string,
    private readonly status: () => string,
  ) {
    this.timer = setInterval(() => this.draw(), 1000);
  }

  private draw(): void {
    this.ticks++;
    const elapsed = ((performance.now() - this.started) / 1000).toFixed(0);
    const line = `${this.label} ${elapsed}s  ${this.status()}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
    else if (this.ticks % 5 === 0) process.stderr.write(`${line}\n`);
  }

  stop(): void {
    clearInterval(this.timer);
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
  }
}

/** A one-off status message (setup steps). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
