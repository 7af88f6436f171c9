// Holds the active policy and replaces it atomically. Readers take one reference per request, so
// no request ever sees half a policy. The sources that write it (UpdatePolicy, the policy file and
// its watcher, SIGHUP in cli/serve.ts) live elsewhere; the last one wins.
import type { Policy } from "../policy/types.js";

export type PolicySourceKind = "file" | "api" | "rollback";

/** Which stored version is active (when policy versions live in a database). */
export interface VersionInfo {
  readonly id: number;
  readonly principal: string;
  readonly createdAt: Date;
  readonly message: string | null;
}

export interface ActivePolicy {
  readonly policy: Policy;
  readonly source: PolicySourceKind;
  readonly loadedAt: Date;
  readonly version?: VersionInfo | undefined;
}

export class PolicyHolder {
  private active: ActivePolicy;

  constructor(initial: Policy, source: PolicySourceKind) {
    this.active = { policy: initial, source, loadedAt: new Date() };
  }

  get current(): ActivePolicy {
    return this.active;
  }

  replace(policy: Policy, source: PolicySourceKind, version?: VersionInfo): ActivePolicy {
    this.active = { policy, source, loadedAt: new Date(), version };
    return this.active;
  }
}
