// Holds the active policy and replaces it atomically. Readers take one reference per request, so
// no request ever sees half a policy. The sources that write it (UpdatePolicy, the policy file and
// its watcher, SIGHUP in cli/serve.ts) live elsewhere; the last one wins.
import type { Policy } from "../policy/types.js";

export type PolicySourceKind = "file" | "api";

export interface ActivePolicy {
  readonly policy: Policy;
  readonly source: PolicySourceKind;
  readonly loadedAt: Date;
}

export class PolicyHolder {
  private active: ActivePolicy;

  constructor(initial: Policy, source: PolicySourceKind) {
    this.active = { policy: initial, source, loadedAt: new Date() };
  }

  get current(): ActivePolicy {
    return this.active;
  }

  replace(policy: Policy, source: PolicySourceKind): ActivePolicy {
    this.active = { policy, source, loadedAt: new Date() };
    return this.active;
  }
}
