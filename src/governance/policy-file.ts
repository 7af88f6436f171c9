// The policy file as a source of the active policy: the first load at startup, reloads (by hash,
// so touch-only or unrelated events change nothing; forced for an explicit reload), and a watch
// on the file's directory. What is read is handed to a sink: the holder itself, or the policy
// versions in the database (policy-versions.ts). An invalid file at reload is logged and ignored.
//
// Half-written files are never loaded: a file is read until two reads a moment apart agree, and
// an empty file is taken for an editor's truncate-then-write and waited out (at startup it is an
// error unless a stored version can be served instead).
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { AegisError } from "../errors.js";
import { type FileWatch, watchFile } from "../file-watch.js";
import { describeFsError } from "../fs-errors.js";
import type { CompileOptions, Policy } from "../policy/types.js";
import type { PolicyHolder } from "./policy-holder.js";
import { compileText } from "./policy-source.js";

/** The minimal logger this module needs (pino's signature). */
export interface PolicyFileLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: PolicyFileLogger = { warn() {}, error() {} };

export interface PolicyFileOptions {
  readonly compile?: CompileOptions | undefined;
  readonly logger?: PolicyFileLogger | undefined;
  /** Milliseconds to wait after a directory event before re-reading (editors write in bursts). */
  readonly debounceMs?: number | undefined;
}

export interface LoadedPolicyFile {
  readonly policy: Policy;
  /** SHA-256 of the file's bytes. */
  readonly hash: string;
  /** The file's text, as it was compiled. */
  readonly text: string;
}

/** Where reloaded files go. `force`: an explicit reload (SIGHUP) that must win over a PUT. */
export type PolicySink = (loaded: LoadedPolicyFile, reason: string, force: boolean) => Promise<void> | void;

const RETRY_MS = 1000;
/** How long to wait between the two reads that must agree. */
const SETTLE_MS = 50;
/** Reads of a file that keeps changing (or stays empty) before this load gives up. */
const MAX_READS = 20;

export class EmptyPolicyFile extends AegisError {
  constructor(path: string) {
    super("invalid_argument", `policy file ${path} is empty (still being written?)`);
  }
}

/** The file's bytes once two reads SETTLE_MS apart agree and it is not empty. */
async function stableRead(path: string): Promise<Buffer> {
  let last = await readFile(path);
  // A pipe or a device (`serve /dev/stdin`, a FIFO) is read once: its content is consumed by the
  // read, so there is no second read to compare and nothing can rewrite it under us.
  if (!(await stat(path)).isFile()) {
    if (last.length === 0) throw new EmptyPolicyFile(path);
    return last;
  }
  for (let i = 0; i < MAX_READS; i++) {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const again = await readFile(path);
    if (again.equals(last) && again.length > 0) return again;
    last = again;
  }
  if (last.length === 0) throw new EmptyPolicyFile(path);
  throw new AegisError("unavailable", `policy file ${path} kept changing while being read`);
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Loads a policy file; a missing or invalid file is an AegisError with a one-line reason. */
export async function loadPolicyFile(path: string, compile?: CompileOptions): Promise<LoadedPolicyFile> {
  let bytes: Buffer;
  try {
    bytes = await stableRead(path);
  } catch (err) {
    if (err instanceof AegisError) throw err;
    throw new AegisError("invalid_argument", `cannot read policy file ${path}: ${describeFsError(err)}`);
  }
  const text = bytes.toString("utf8");
  return { policy: compileText(text, compile, path), hash: sha256(bytes), text };
}

export class PolicyFileSource {
  readonly path: string;
  private readonly logger: PolicyFileLogger;
  private watcher: FileWatch | undefined;

  /** `fileHash`: the hash of what was read at startup (and handed to the sink). */
  constructor(
    path: string,
    private readonly sink: PolicySink,
    fileHash: string | undefined,
    private readonly options: PolicyFileOptions = {},
  ) {
    this.path = resolve(path);
    this.logger = options.logger ?? silent;
    this.fileHash = fileHash;
  }

  /** A sink that swaps the holder's policy (no database: nothing is stored). */
  static holderSink(holder: PolicyHolder): PolicySink {
    return (loaded) => {
      holder.replace(loaded.policy, "file");
    };
  }

  /** Hash of the file bytes last loaded. */
  private fileHash: string | undefined;

  /**
   * Re-reads the file. `force` (an explicit reload such as SIGHUP) reloads even when the bytes did
   * not change, because it must win over an earlier PUT. An invalid file is logged and ignored.
   */
  async reload(force: boolean, reason: string): Promise<boolean> {
    const path = this.path;
    let loaded: LoadedPolicyFile;
    try {
      const bytes = await readFile(path);
      if (!force && sha256(bytes) === this.fileHash) return false;
      loaded = await loadPolicyFile(path, this.options.compile);
      if (!force && loaded.hash === this.fileHash) return false;
      await this.sink(loaded, reason, force);
    } catch (err) {
      if (!force && isMissing(err)) return false; // mid-rename or ConfigMap swap: the next event has it
      if (err instanceof EmptyPolicyFile) {
        this.logger.warn({ path, reason }, "policy file is empty; waiting for its content");
        return false;
      }
      this.logger.error(
        { path, reason, err: err instanceof Error ? err.message : String(err) },
        "policy reload failed; keeping the active policy",
      );
      // The database was away: the file is still new, so try again (no file event will come).
      if (err instanceof AegisError && err.code === "unavailable") this.retrySoon(force, reason);
      return false;
    }
    this.fileHash = loaded.hash;
    this.logger.warn(
      { path, reason, hash: loaded.policy.hash, rule_count: loaded.policy.ruleCount },
      "policy file loaded",
    );
    return true;
  }

  private retryTimer: NodeJS.Timeout | undefined;

  private retrySoon(force: boolean, reason: string): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reload(force, reason);
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  /** Reloads whenever the file changes (file-watch.ts: the directory is watched). */
  watch(): void {
    this.watcher ??= watchFile(this.path, () => void this.reload(false, "file changed"), {
      debounceMs: this.options.debounceMs,
      onError: (err) => this.logger.warn({ path: this.path, err: err.message }, "policy watch failed"),
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
