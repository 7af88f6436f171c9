// The governance section of the configuration: the policy file, batch and per-field limits, and
// the approval timeout.
import { choiceVar, type Env, integerVar, secondsVar, text } from "../config-env.js";

export interface GovernanceConfig {
  readonly policyPath: string;
  /** AEGIS_POLICY_SOURCE: `database` (the file is the deploy-time source, PUTs are stored) or `file` (the file only). */
  readonly policySource: "database" | "file";
  readonly maxBatch: number;
  /** An action's params, as JSON (AEGIS_MAX_PARAMS_BYTES). */
  readonly maxParamsBytes: number;
  /** An action's description (AEGIS_MAX_DESCRIPTION_BYTES). */
  readonly maxDescriptionBytes: number;
  /** The executor data an audit row records, as JSON (AEGIS_MAX_RESULT_BYTES). */
  readonly maxResultBytes: number;
  /** Row data one audit page carries (AEGIS_MAX_AUDIT_PAGE_BYTES). */
  readonly maxAuditPageBytes: number;
  readonly approvalTimeoutMs: number;
  /** Agents whose last heartbeat is older are `stale` (AEGIS_AGENT_HEARTBEAT_TIMEOUT). */
  readonly agentHeartbeatTimeoutMs: number;
}

export const GOVERNANCE_DEFAULTS: GovernanceConfig = {
  policyPath: "./policy.yaml",
  policySource: "database",
  maxBatch: 1000,
  maxParamsBytes: 256 * 1024,
  maxDescriptionBytes: 16 * 1024,
  maxResultBytes: 256 * 1024,
  maxAuditPageBytes: 4 * 1024 * 1024,
  approvalTimeoutMs: 30_000,
  agentHeartbeatTimeoutMs: 60_000,
};

const MAX_BYTES = 2 ** 31 - 1;

export function governanceConfigFromEnv(env: Env): GovernanceConfig {
  const d = GOVERNANCE_DEFAULTS;
  return {
    policyPath: text(env, "AEGIS_POLICY_PATH") ?? d.policyPath,
    policySource: choiceVar(env, "AEGIS_POLICY_SOURCE", ["database", "file"], d.policySource),
    maxBatch: integerVar(env, "AEGIS_MAX_BATCH", d.maxBatch, 1, 1_000_000),
    maxParamsBytes: integerVar(env, "AEGIS_MAX_PARAMS_BYTES", d.maxParamsBytes, 1, MAX_BYTES),
    maxDescriptionBytes: integerVar(env, "AEGIS_MAX_DESCRIPTION_BYTES", d.maxDescriptionBytes, 1, MAX_BYTES),
    maxResultBytes: integerVar(env, "AEGIS_MAX_RESULT_BYTES", d.maxResultBytes, 1, MAX_BYTES),
    maxAuditPageBytes: integerVar(env, "AEGIS_MAX_AUDIT_PAGE_BYTES", d.maxAuditPageBytes, 1, MAX_BYTES),
    approvalTimeoutMs: secondsVar(env, "AEGIS_APPROVAL_TIMEOUT", d.approvalTimeoutMs),
    agentHeartbeatTimeoutMs: secondsVar(env, "AEGIS_AGENT_HEARTBEAT_TIMEOUT", d.agentHeartbeatTimeoutMs),
  };
}
