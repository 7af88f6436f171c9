// Holds the active policy and replaces it atomically. Three writers exist (UpdatePolicy, SIGHUP,
// a changed policy file); the last one wins. Readers take one reference per request, so no
// request ever sees half a policy.
import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { AegisError } from "../errors.js";
import type { CompileOptions, Policy } from "../policy/types.js";
import { compileText } from "./policy-source.js";

export type PolicySourceKind = "file" | "api";

export interface ActivePolicy {
  readonly policy: Policy;
  readonly source: PolicySourceKind;
  readonly loadedAt: Date;
}

/** The minimal logger this module needs (pino's signature). */
export interface HolderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: HolderLogger = { info() {}, warn() {}, error() {} };

export interface PolicyHolderOptions {
  readonly path?: string | undefined;
  readonly compile?: CompileOptions | undefined;
  readonly logger?: HolderLogger | undefined;
  /** Milliseconds to wait after a directory event before re-reading (editors write in bursts). */
  readonly debounceMs?: number | undefined;
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export class PolicyHolder {
  private active: ActivePolicy;
  /** Hash of the file bytes last loaded, so touch-only or unrelated directory events are ignored. */
  private fileHash: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sighup: (() => void) | undefined;
  private readonly listeners = new Set<(p: ActivePolicy) => void>();
  private readonly logger: HolderLogger;
  readonly path: string | undefined;

  constructor(
    initial: Policy,
    source: PolicySourceKind,
    private readonly options: PolicyHolderOptions = {},
    fileHash?: string,
  ) {
    this.active = { policy: initial, source, loadedAt: new Date() };
    this.path = options.path === undefined ? undefined : resolve(options.path);
    this.logger = options.logger ?? silent;
    this.fileHash = fileHash;
  }

  /** Loads the policy file; a missing or invalid file is an AegisError with a one-line reason. */
  static async fromFile(
    path: string,
    options: Omit<PolicyHolderOptions, "path"> = {},
  ): Promise<PolicyHolder> {
    const { policy, hash } = await loadFile(path, options.compile);
    return new PolicyHolder(policy, "file", { ...options, path }, hash);
  }

  get current(): ActivePolicy {
    return this.active;
  }

  /** Called after every swap (health and tests watch this). */
  onChange(fn: (p: ActivePolicy) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  replace(policy: Policy, source: PolicySourceKind): ActivePolicy {
    this.active = { policy, source, loadedAt: new Date() };
    for (const fn of this.listeners) fn(this.active);
    return this.active;
  }

  /**
   * Re-reads the policy file. `force` (SIGHUP) reloads even when the bytes did not change, because
   * an explicit reload must win over an earlier PUT. An invalid file is logged and ignored.
   */
  async reloadFromFile(force: boolean, reason: string): Promise<boolean> {
    const path = this.path;
    if (path === undefined) return false;
    let loaded: { policy: Policy; hash: string };
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
    const active = this.replace(loaded.policy, "file");
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
    const path = this.path;
    if (path === undefined || this.watcher) return;
    const debounce = this.options.debounceMs ?? 100;
    const name = basename(path);
    try {
      this.watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        // Some platforms give no name; ConfigMap swaps touch `..data`, never the file's own name.
        if (file !== null && file !== name && !String(file).startsWith("..")) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.reloadFromFile(false, "file changed");
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
    this.sighup = () => void this.reloadFromFile(true, "SIGHUP");
    process.on("SIGHUP", this.sighup);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (this.sighup) process.off("SIGHUP", this.sighup);
    this.sighup = undefined;
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

async function loadFile(path: string, compile?: CompileOptions): Promise<{ policy: Policy; hash: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (err as Error).message;
    throw new AegisError("invalid_argument", `cannot read policy file ${path}: ${why}`);
  }
  return { policy: compileText(bytes.toString("utf8"), compile, path), hash: sha256(bytes) };
}
