/**
 * The `cyphr` command as a person runs it: `src/cli/bin.mjs` (the package's bin) in a child
 * process, one profile per user in a temporary CYPHR_HOME, the passphrase in CYPHR_PASSPHRASE.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { childEnv } from "./process.js";

export const CLI_BIN = fileURLToPath(new URL("../../src/cli/bin.mjs", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  env?: Record<string, string | undefined>;
  /** Where it runs (default: the temporary home, away from the checkout). */
  cwd?: string;
  timeoutMs?: number;
}

/** A temporary CYPHR_HOME with profiles in it. */
export class CliHome {
  private constructor(readonly folder: string) {}

  static async create(): Promise<CliHome> {
    return new CliHome(await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-cli-")));
  }

  /** A user of the CLI: `--profile <profile>` on every command, with this passphrase. */
  user(profile: string, passphrase = `passphrase of ${profile}`): CliUser {
    return new CliUser(this, profile, passphrase);
  }

  /** Users (profile → Cyphr ID) with a profile for the server, each registered: `init`, then `register`. */
  async registered<P extends string>(baseUrl: string, cyphrIds: Record<P, string>): Promise<Record<P, CliUser>> {
    const entries = (Object.entries(cyphrIds) as [P, string][]).map(([profile, cyphrId]) => ({ profile, cyphrId, user: this.user(profile) }));
    await Promise.all(entries.map(({ user }) => user.ok(["init", "--server", baseUrl])));
    await Promise.all(entries.map(({ user, cyphrId }) => user.ok(["register", cyphrId])));
    return Object.fromEntries(entries.map(({ profile, user }) => [profile, user])) as Record<P, CliUser>;
  }

  /** Runs `cyphr <args>` with this home (no passphrase unless env gives one). */
  run(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
    return runCli(args, { ...options, env: { CYPHR_HOME: this.folder, ...options.env }, cwd: options.cwd ?? this.folder });
  }

  async remove(): Promise<void> {
    await fs.rm(this.folder, { recursive: true, force: true });
  }
}

export class CliUser {
  constructor(
    readonly home: CliHome,
    readonly profile: string,
    readonly passphrase: string,
  ) {}

  /** Runs `cyphr --profile <profile> <args>`. */
  run(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
    return this.home.run(["--profile", this.profile, ...args], { ...options, env: { CYPHR_PASSPHRASE: this.passphrase, ...options.env } });
  }

  /** Starts `cyphr --profile <profile> <args>` and returns at once, for commands that wait (link). */
  start(args: string[], options: CliRunOptions = {}): RunningCli {
    return startCli(["--profile", this.profile, ...args], {
      ...options,
      cwd: options.cwd ?? this.home.folder,
      env: { CYPHR_HOME: this.home.folder, CYPHR_PASSPHRASE: this.passphrase, ...options.env },
    });
  }

  /** Runs it and requires exit code 0. */
  async ok(args: string[], options: CliRunOptions = {}): Promise<string> {
    const result = await this.run(args, options);
    if (result.code !== 0) throw new Error(`cyphr ${args.join(" ")} exited ${result.code}\nstderr: ${result.stderr}\nstdout: ${result.stdout}`);
    return result.stdout;
  }

  /** Runs it with --json and parses stdout. */
  async json<T = unknown>(args: string[], options: CliRunOptions = {}): Promise<T> {
    return JSON.parse(await this.ok(["--json", ...args], options)) as T;
  }
}

export interface RunningCli {
  /** What it printed so far. */
  stdout(): string;
  /** Resolves with the first stdout line matching `pattern` (fails if the command ends first). */
  line(pattern: RegExp): Promise<string>;
  /** Its end. */
  done: Promise<CliResult>;
}

/** Starts `node src/cli/bin.mjs <args>` (killed after timeoutMs). */
export function startCli(args: string[], options: CliRunOptions = {}): RunningCli {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: options.cwd,
    env: childEnv({ CYPHR_PASSPHRASE: undefined, CYPHR_PROFILE: undefined, CYPHR_DEBUG: undefined, ...options.env }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin.end(options.input ?? "");
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`cyphr ${args.join(" ")} did not end within ${options.timeoutMs ?? 60_000} ms\nstderr: ${stderr}\nstdout: ${stdout}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
      for (const w of waiters.splice(0)) w();
    });
  });
  let ended = false;
  void done.then(
    () => (ended = true),
    () => (ended = true),
  );
  return {
    stdout: () => stdout,
    done,
    line: async (pattern) => {
      for (;;) {
        const found = stdout.split("\n").find((l) => pattern.test(l));
        if (found !== undefined) return found;
        if (ended) throw new Error(`cyphr ${args.join(" ")} ended without printing ${pattern}\nstderr: ${stderr}\nstdout: ${stdout}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

/** Runs `node src/cli/bin.mjs <args>` and collects its output (killed after timeoutMs). */
export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/**
 * A terminal for the interactive `cyphr chat`: a tmux session of a fixed size on a tmux server
 * of this test's own (-L socket), driven with send-keys and read with capture-pane.
 */
export class TmuxTerminal {
  private constructor(
    private readonly socket: string,
    readonly name: string,
  ) {}

  static available(): boolean {
    return spawnSync("tmux", ["-V"]).status === 0;
  }

  /** Runs `command` (a shell command line) in a new detached session of cols × rows; the pane stays after it exits. */
  static async start(
    socket: string,
    name: string,
    command: string,
    size: { cols: number; rows: number },
    env: Record<string, string>,
    cwd?: string,
  ): Promise<TmuxTerminal> {
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)};`)
      .join(" ");
    const where = cwd === undefined ? [] : ["-c", cwd];
    tmux(socket, ["new-session", "-d", "-s", name, ...where, "-x", String(size.cols), "-y", String(size.rows), `${exports} ${command}`]);
    tmux(socket, ["set-option", "-t", name, "remain-on-exit", "on"]);
    return new TmuxTerminal(socket, name);
  }

  /** Types text (literally), or named keys such as "Enter", "C-c". */
  type(text: string): void {
    tmux(this.socket, ["send-keys", "-t", this.name, "-l", text]);
  }
  key(...keys: string[]): void {
    tmux(this.socket, ["send-keys", "-t", this.name, ...keys]);
  }

  /** The visible screen, one string per row. */
  screen(): string[] {
    return tmux(this.socket, ["capture-pane", "-p", "-t", this.name]).replace(/\n$/, "").split("\n");
  }

  /** Whether the program in the pane is on the alternate screen, and whether it has exited. */
  status(): { alternate: boolean; dead: boolean; width: number; height: number } {
    const [alt, dead, width, height] = tmux(this.socket, [
      "display-message",
      "-p",
      "-t",
      this.name,
      "#{alternate_on} #{pane_dead} #{pane_width} #{pane_height}",
    ])
      .trim()
      .split(" ");
    return { alternate: alt === "1", dead: dead === "1", width: Number(width), height: Number(height) };
  }

  resize(cols: number, rows: number): void {
    tmux(this.socket, ["resize-window", "-t", this.name, "-x", String(cols), "-y", String(rows)]);
  }

  /** Waits until the screen satisfies `test`; fails with the screen after `timeoutMs`. */
  async waitFor(what: string, test: (screen: string[]) => boolean, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms; the screen:\n${screen.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  waitForText(text: string, timeoutMs?: number): Promise<string[]> {
    return this.waitFor(JSON.stringify(text), (s) => s.some((line) => line.includes(text)), timeoutMs);
  }

  /** Ends this test's tmux server (only the sessions it started). */
  static killServer(socket: string): void {
    spawnSync("tmux", ["-L", socket, "kill-server"]);
  }
}

function tmux(socket: string, args: string[]): string {
  const result = spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tmux ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
