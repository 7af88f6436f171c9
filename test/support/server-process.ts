// Starts the real `aegis serve` process for end-to-end tests and benchmarks.
// The server is spawned with `process.execPath` (so a Node 24 test run tests Node 24) on port 0; the
// bound address is read from its startup log line `{"msg":"listening","address":"http://127.0.0.1:PORT"}`.
// Every child is killed when the test process exits, whatever happened.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliPath, examplesDir, repoRoot } from "./paths.js";

/** The seed's default policy (read -> LOW/auto, write -> MEDIUM/approve, delete -> CRITICAL/block). */
export const defaultPolicyPath = join(examplesDir, "policy.yaml");

export interface StartOptions {
  /** Policy file given as the positional argument; default: the seed's default policy. `null`: none. */
  readonly policy?: string | null;
  /** Extra CLI arguments after `serve <policy> --host 127.0.0.1 --port 0`. */
  readonly args?: readonly string[];
  /** Environment overrides; `undefined` removes a variable. AEGIS_* of the caller are never inherited. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** How long to wait for the listening line (default 30 s: the embedded audit store may start first). */
  readonly startTimeoutMs?: number;
  /** Host passed with --host (default 127.0.0.1). */
  readonly host?: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface LogLine {
  readonly [key: string]: unknown;
  readonly msg?: string;
  readonly level?: number | string;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** The environment a spawned server sees: the caller's minus every AEGIS_ and DATABASE_URL variable. */
export function serverEnv(overrides: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("AEGIS_") || k === "DATABASE_URL" || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  env["AEGIS_AUDIT_DB"] = "memory:";
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Collects a child's output and exit; shared by long-running servers and one-shot CLI runs. */
class Output {
  stdout = "";
  stderr = "";
  readonly lines: LogLine[] = [];
  private partial = "";
  private waiters: Array<() => void> = [];
  exit: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      this.stdout += chunk;
      this.partial += chunk;
      let nl = this.partial.indexOf("\n");
      while (nl >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        this.addLine(line);
        nl = this.partial.indexOf("\n");
      }
      this.notify();
    });
    child.stderr?.on("data", (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        if (this.partial.length > 0) this.addLine(this.partial);
        this.partial = "";
        this.exit = { code, signal };
        live.delete(child);
        this.notify();
        resolve(this.exit);
      });
      child.on("error", (err) => {
        this.stderr += `spawn error: ${err.message}\n`;
        this.notify();
      });
    });
  }

  private addLine(line: string): void {
    const text = line.trim();
    if (!text.startsWith("{")) return;
    try {
      this.lines.push(JSON.parse(text) as LogLine);
    } catch {
      // not a JSON log line
    }
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when `check()` returns a value other than undefined; rejects on timeout. */
  async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  describe(): string {
    const exit = this.exit ? `exit code=${this.exit.code} signal=${this.exit.signal}\n` : "";
    return `${exit}--- stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`;
  }
}

export class ServerProcess {
  private constructor(
    private readonly out: Output,
    /** `http://127.0.0.1:PORT` (or https:// with TLS), as the server logged it. */
    readonly url: string,
  ) {}

  get child(): ChildProcess {
    return this.out.child;
  }
  get port(): number {
    return Number(new URL(this.url).port);
  }
  get host(): string {
    return new URL(this.url).hostname;
  }
  /** `127.0.0.1:PORT`, the form gRPC clients take. */
  get authority(): string {
    return new URL(this.url).host;
  }
  get stdout(): string {
    return this.out.stdout;
  }
  get stderr(): string {
    return this.out.stderr;
  }
  /** Parsed pino JSON lines seen on stdout so far. */
  get logs(): readonly LogLine[] {
    return this.out.lines;
  }
  get exitInfo(): ExitInfo | undefined {
    return this.out.exit;
  }
  get exited(): Promise<ExitInfo> {
    return this.out.exited;
  }
  describe(): string {
    return this.out.describe();
  }

  /** Waits for a log line matching `pred` (already seen ones count). */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs = 15_000, what = "a log line"): Promise<LogLine> {
    return this.out.until(() => this.out.lines.find(pred), timeoutMs, what);
  }

  /** Waits for a log line matching `pred` among those that arrive after `afterIndex`. */
  waitForNewLog(
    afterIndex: number,
    pred: (line: LogLine) => boolean,
    timeoutMs = 15_000,
    what = "a log line",
  ): Promise<LogLine> {
    return this.out.until(() => this.out.lines.slice(afterIndex).find(pred), timeoutMs, what);
  }

  /** Sends `signal` and waits for the exit; SIGKILLs after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 15_000): Promise<ExitInfo> {
    if (this.out.exit) return this.out.exit;
    this.out.child.kill(signal);
    const timer = setTimeout(() => this.out.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.out.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills without ceremony (for `after` hooks); never throws. */
  async kill(): Promise<void> {
    if (this.out.exit) return;
    this.out.child.kill("SIGKILL");
    await this.out.exited;
  }

  static async start(options: StartOptions = {}): Promise<ServerProcess> {
    const policy = options.policy === undefined ? defaultPolicyPath : options.policy;
    const args = [
      ...(options.nodeArgs ?? []),
      cliPath,
      "serve",
      ...(policy === null ? [] : [policy]),
      "--host",
      options.host ?? "127.0.0.1",
      "--port",
      "0",
      ...(options.args ?? []),
    ];
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ?? repoRoot,
      env: serverEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    const out = new Output(child);
    const timeout = options.startTimeoutMs ?? 30_000;
    try {
      const url = await out.until(
        () => {
          if (out.exit) throw new Error(`server exited before listening\n${out.describe()}`);
          for (const line of out.lines) {
            if (line.msg === "listening" && typeof line["address"] === "string") return line["address"];
          }
          return undefined;
        },
        timeout,
        'the {"msg":"listening"} startup line',
      );
      return new ServerProcess(out, url);
    } catch (err) {
      child.kill("SIGKILL");
      await out.exited;
      throw err;
    }
  }
}

/** Starts `aegis serve` and resolves once it listens (see ServerProcess.start). */
export function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  return ServerProcess.start(options);
}

export interface CliResult extends ExitInfo {
  readonly stdout: string;
  readonly stderr: string;
  /** Parsed JSON log lines of stdout. */
  readonly logs: readonly LogLine[];
}

/** Runs `aegis <args>` to completion (killed after `timeoutMs`). */
export async function runCli(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string | undefined>>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: serverEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const out = new Output(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  try {
    const exit = await out.exited;
    return { ...exit, stdout: out.stdout, stderr: out.stderr, logs: out.lines };
  } finally {
    clearTimeout(timer);
  }
}

/** A temporary directory removed by `cleanup()`. */
export interface TempDir {
  readonly path: string;
  file(name: string, content: string): string;
  cleanup(): void;
}

export function makeTempDir(prefix = "aegis-e2e-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file(name, content) {
      const p = join(path, name);
      writeFileSync(p, content);
      return p;
    },
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Writes `yaml` to `<tempdir>/<name>` and returns the directory (with its cleanup) and the file path. */
export function writeTempPolicy(yaml: string, name = "policy.yaml"): { dir: TempDir; path: string } {
  const dir = makeTempDir("aegis-policy-");
  return { dir, path: dir.file(name, yaml) };
}

/** Polls `fn` until it returns a value other than undefined (or throws the last error on timeout). */
export async function poll<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 100, what = "a condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
