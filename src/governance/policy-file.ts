// The policy file as a source of the active policy: the first load at startup, reloads (by hash,
// so touch-only or unrelated events change nothing; forced for an explicit reload), and a watch
// on the file's directory. An invalid file at reload is logged and ignored.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
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
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Loads a policy file; a missing or invalid file is an AegisError with a one-line reason. */
export async function loadPolicyFile(path: string, compile?: CompileOptions): Promise<LoadedPolicyFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new AegisError("invalid_argument", `cannot read policy file ${path}: ${describeFsError(err)}`);
  }
  return { policy: compileText(bytes.toString("utf8"), compile, path), hash: sha256(bytes) };
}

export class PolicyFileSource {
  readonly path: string;
  private readonly logger: PolicyFileLogger;
  private watcher: FileWatch | undefined;

  /** `loaded`: what was read at startup (and put into `holder`). */
  constructor(
    path: string,
    private readonly holder: PolicyHolder,
    loaded: LoadedPolicyFile,
    private readonly options: PolicyFileOptions = {},
  ) {
    this.path = resolve(path);
    this.logger = options.logger ?? silent;
    this.fileHash = loaded.hash;
  }

  /** Hash of the file bytes last loaded. */
  private fileHash: string;

  /**
   * Re-reads the file. `force` (an explicit reload such as SIGHUP) reloads even when the bytes did
   * not change, because it must win over an earlier PUT. An invalid file is logged and ignored.
   */
  async reload(force: boolean, reason: string): Promise<boolean> {
    const path = this.path;
    let loaded: LoadedPolicyFile;
    try {
      const bytes = await readFile(path);
      const hash = sha256(bytes);
      if (!force && hash === this.fileHash) return false;
      loaded = { policy: compileText(bytes.toString("utf8"), this.options.compile, path), hash };
    } catch (err) {
      if (!force && isMissing(err)) return false; // mid-rename or ConfigMap swap: the next event has it
      this.logger.error(
        { path, reason, err: err instanceof Error ? err.message : String(err) },
        "policy reload failed; keeping the active policy",
      );
      return false;
    }
    this.fileHash = loaded.hash;
    const active = this.holder.replace(loaded.policy, "file");
    this.logger.warn(
      {
        path,
        reason,
        hash: loaded.policy.hash,
        rule_count: loaded.policy.ruleCount,
        loaded_at: active.loadedAt,
      },
      "policy reloaded",
    );
    return true;
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
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
