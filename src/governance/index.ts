// The governance layer: service implementations shared by every transport.
export {
  type ActivePolicy,
  PolicyHolder,
  type PolicyHolderOptions,
  type PolicySourceKind,
} from "./policy-holder.js";
export { compileObject, compileText, formatProblems } from "./policy-source.js";
export {
  type AuditBackend,
  type DecidedAction,
  type GovernanceOptions,
  GovernanceService,
  type PolicySnapshot,
  type PolicyUpdate,
  type Readiness,
} from "./service.js";
export type * from "./types.js";
