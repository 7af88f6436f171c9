// The policy file as a source of the active policy: the first load at startup, reloads (by hash,
// so touch-only or unrelated events change nothing; forced for an explicit reload), and a watch
// on the file's directory. An invalid file at reload is logged and ignored.
import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { AegisError } from "../errors.js";
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
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

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

  /**
   * Watches the file's DIRECTORY, not the file: editors that save by rename and Kubernetes
   * ConfigMaps (which swap a `..data` symlink) replace the inode, and a watch on the old inode
   * would go silent. Every event re-hashes the file, so unrelated events cost one read.
   */
  watch(): void {
    if (this.watcher) return;
    const path = this.path;
    const debounce = this.options.debounceMs ?? 100;
    const name = basename(path);
    try {
      this.watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        // Some platforms give no name; ConfigMap swaps touch `..data`, never the file's own name.
        if (file !== null && file !== name && !String(file).startsWith("..")) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.reload(false, "file changed");
        }, debounce);
        this.timer.unref();
      });
      this.watcher.on("error", (err) => this.logger.warn({ path, err: err.message }, "policy watch failed"));
    } catch (err) {
      this.logger.warn(
        { path, err: err instanceof Error ? err.message : String(err) },
        "cannot watch policy",
      );
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
