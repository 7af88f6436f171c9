// The governance layer: one implementation of every operation, shared by every transport.
export { type ActionLimits, DEFAULT_ACTION_LIMITS } from "./action-check.js";
export {
  type ApprovalHandler,
  AUTO_APPROVAL_WARNING,
  AutoApprovalHandler,
  DEFAULT_APPROVAL_TIMEOUT_MS,
} from "./approval.js";
export {
  type AuditedExecutePipeline,
  createExecutePipeline,
  DEFAULT_MAX_RESULT_BYTES,
  type DecidedAction,
  type ExecutePipeline,
  type ExecutePipelineOptions,
  NoopExecutor,
} from "./execute-pipeline.js";
export {
  EmptyPolicyFile,
  type LoadedPolicyFile,
  loadPolicyFile,
  type PolicyFileOptions,
  PolicyFileSource,
} from "./policy-file.js";
export { type ActivePolicy, PolicyHolder, type PolicySourceKind, type VersionInfo } from "./policy-holder.js";
export { compileObject, compileText } from "./policy-source.js";
export { type PolicyCandidate, type PolicySourceMode, PolicyVersions } from "./policy-versions.js";
export {
  type AuditLog,
  type GovernanceOptions,
  GovernanceService,
  type PolicySnapshot,
  type PolicyUpdate,
  type Readiness,
} from "./service.js";
export { newSessionId } from "./session.js";
export type * from "./types.js";
