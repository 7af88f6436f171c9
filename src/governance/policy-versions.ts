// The active policy as shared, versioned state (policy-store/): every policy that becomes active
// (the file at startup or on change, a PUT, a rollback) is a stored version, and every replica
// serves the active one.
//
// Precedence: the policy file is the deploy-time source. At startup and when it changes, a file
// whose content differs from the last version that came from the file becomes a new active
// version (a changed file is a deliberate deploy); an unchanged file leaves the active version
// alone, so a PUT survives restarts. With AEGIS_POLICY_SOURCE=file the file is the only source:
// PUT and rollback are refused (failed_precondition) and the file's content is always active.
//
// Convergence: a replica learns of a new active version by NOTIFY (`aegis_policy`, sent inside
// the activating transaction), after its listening connection comes back, and by a poll every
// POLL_MS that repairs a missed notification. It only ever moves to a higher version id (ids grow
// in activation order), so it never serves a version older than one it has served.
import { AegisError } from "../errors.js";
import type { Policy } from "../policy/types.js";
import type {
  ActivationCondition,
  PolicyVersion,
  PolicyVersionStore,
  VersionSource,
  VersionSummary,
} from "../policy-store/index.js";
import { POLICY_CHANNEL } from "../policy-store/index.js";
import type { Database } from "../storage/index.js";
import type { LoadedPolicyFile } from "./policy-file.js";
import type { PolicyHolder, VersionInfo } from "./policy-holder.js";
import { compileText } from "./policy-source.js";

export type PolicySourceMode = "database" | "file";

export const POLL_MS = 500;

interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A policy ready to become active: compiled, with the text to store. */
export interface PolicyCandidate {
  readonly policy: Policy;
  readonly text: string;
}

function infoOf(v: PolicyVersion | VersionSummary): VersionInfo {
  return { id: v.id, principal: v.principal, createdAt: v.createdAt, message: v.message };
}

export class PolicyVersions {
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private lastFailure: string | undefined;

  constructor(
    private readonly store: PolicyVersionStore,
    private readonly db: Database,
    private readonly holder: PolicyHolder,
    readonly mode: PolicySourceMode,
    private readonly logger?: Logger | undefined,
  ) {}

  /** The id of the version this replica serves (undefined before the first one). */
  get servedId(): number | undefined {
    return this.holder.current.version?.id;
  }

  /**
   * Startup: the file by the precedence rule, then the active version served, then kept current.
   * `file` is undefined when the file is empty: then a stored version must exist.
   */
  async start(file: LoadedPolicyFile | undefined, path: string): Promise<void> {
    this.pendingFile = file;
    this.path = path;
    try {
      await this.settle();
    } catch (err) {
      // A database that is down at startup: serve the file (already in the holder) until it answers.
      if (!(err instanceof AegisError && err.code === "unavailable") || file === undefined) throw err;
      this.logger?.error(
        { err: err.message },
        "policy versions unavailable; serving the policy file until the database answers",
      );
    }
    this.unsubscribe = this.db.driver.subscribe(POLICY_CHANNEL, {
      onMessage: () => void this.sync(),
      onResync: () => void this.sync(),
    });
    this.timer = setInterval(() => void this.sync(), POLL_MS);
    this.timer.unref();
  }

  private pendingFile: LoadedPolicyFile | undefined;
  private path = "";

  /** Stores the file read at startup (by the precedence rule), then serves the active version. */
  private async settle(): Promise<void> {
    const file = this.pendingFile;
    if (file !== undefined) {
      await this.activateFile(file, "startup", false);
      this.pendingFile = undefined;
    }
    const active = await this.store.active();
    if (active === undefined) {
      throw new AegisError(
        "invalid_argument",
        `policy file ${this.path} is empty and no policy version is stored yet`,
      );
    }
    this.serve(active);
  }

  /** The file sink: a file read at startup, on change, or forced (SIGHUP). */
  async activateFile(loaded: LoadedPolicyFile, reason: string, force: boolean): Promise<void> {
    const condition: ActivationCondition = force
      ? "always"
      : this.mode === "file"
        ? "file-not-active"
        : "file-changed";
    const { version, created } = await this.store.activate(
      {
        text: loaded.text,
        hash: loaded.policy.hash,
        ruleCount: loaded.policy.ruleCount,
        source: "file",
        principal: "file",
        fileHash: loaded.hash,
        message: reason,
      },
      condition,
    );
    if (created) {
      this.logger?.warn(
        { version: version.id, hash: version.hash, source: "file", reason, rule_count: version.ruleCount },
        "policy version activated",
      );
      this.serve(version, loaded.policy);
    }
  }

  /** A PUT: stored as a new active version; refused when the file is the only source. */
  async update(candidate: PolicyCandidate, principal: string, message?: string): Promise<PolicyVersion> {
    this.refuseInFileMode("PUT /api/v1/policy");
    return this.activate(candidate, "api", principal, message);
  }

  /** Makes version `id` active again as a new `rollback` version; a no-op when it is active. */
  async rollback(
    id: number,
    principal: string,
    message?: string,
  ): Promise<{ version: PolicyVersion; changed: boolean }> {
    this.refuseInFileMode("a rollback");
    const target = await this.store.get(id);
    if (target === undefined) throw new AegisError("not_found", `policy version ${id} does not exist`);
    const activeId = await this.store.activeId();
    if (activeId === id) return { version: target, changed: false };
    const policy = compileText(target.text);
    const version = await this.activate(
      { policy, text: target.text },
      "rollback",
      principal,
      message ?? `rollback to version ${id}`,
      id,
    );
    return { version, changed: true };
  }

  list(limit: number, beforeId?: number) {
    return this.store.list(limit, beforeId);
  }

  get(id: number) {
    return this.store.get(id);
  }

  private refuseInFileMode(what: string): void {
    if (this.mode === "file") {
      throw new AegisError(
        "failed_precondition",
        `AEGIS_POLICY_SOURCE=file: the policy file is the only source, so ${what} is refused; change the file instead`,
      );
    }
  }

  private async activate(
    candidate: PolicyCandidate,
    source: VersionSource,
    principal: string,
    message: string | undefined,
    rollbackOf?: number,
  ): Promise<PolicyVersion> {
    const { version } = await this.store.activate({
      text: candidate.text,
      hash: candidate.policy.hash,
      ruleCount: candidate.policy.ruleCount,
      source,
      principal,
      message,
      rollbackOf,
    });
    this.logger?.warn(
      { version: version.id, hash: version.hash, source, principal, rule_count: version.ruleCount },
      "policy version activated",
    );
    this.serve(version, candidate.policy);
    return version;
  }

  /** Serves `version` unless this replica already serves it or a newer one. */
  private serve(version: PolicyVersion, compiled?: Policy): void {
    const served = this.servedId;
    if (served !== undefined && version.id <= served) return;
    const policy = compiled ?? compileText(version.text);
    this.holder.replace(policy, version.source, infoOf(version));
  }

  /** Follows the active version of the database (NOTIFY, resync, poll). */
  private sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        if (this.pendingFile !== undefined) {
          await this.settle();
          return;
        }
        const id = await this.store.activeId();
        const served = this.servedId;
        if (id === undefined || (served !== undefined && id <= served)) return;
        const version = await this.store.get(id);
        if (version === undefined) return;
        this.serve(version);
        this.lastFailure = undefined;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Once per distinct failure: a database outage must not flood the log every poll.
        if (message !== this.lastFailure) {
          this.lastFailure = message;
          this.logger?.error(
            { err: message },
            "cannot follow the active policy version; serving the last one",
          );
        }
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  close(): void {
    this.unsubscribe?.();
    clearInterval(this.timer);
  }
}
