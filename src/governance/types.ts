// Domain types of the governance service: what the handlers take and return, independent of
// any wire encoding. The REST codec and the Connect service both translate to and from these.
import type { Approval, Decision, RiskLevel } from "../policy/types.js";

/** One action as a caller sends it (REST body item or proto `Action`). */
export interface ActionRequest {
  readonly actionType: string;
  readonly target: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly description?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly agentId?: string | undefined;
  readonly parentAgentId?: string | undefined;
  readonly chainId?: string | undefined;
  readonly chainDepth?: number | undefined;
}

/** The answer to Evaluate: the policy's decision about one action. */
export interface EvaluateResult extends Decision {
  readonly actionType: string;
  readonly target: string;
  readonly policyHash: string;
}

export type ResultStatus = "success" | "blocked" | "denied" | "failed";

/** The answer to Execute. `data` and `error` are null when empty. */
export interface ExecuteResult {
  readonly actionType: string;
  readonly target: string;
  readonly status: ResultStatus;
  readonly data: unknown;
  readonly error: string | null;
  readonly decision: EvaluateResult;
  /** The audit row id of this execution. */
  readonly auditId: number;
}

/** Per-call context handed to executors and approval handlers. */
export interface ExecutionContext {
  readonly sessionId: string;
  readonly requestId?: string | undefined;
  /** Aborted when the caller goes away or the approval timeout passes. */
  readonly signal?: AbortSignal | undefined;
}

/** Runs an approved action. Resolve with `{data}`; throw to mark the action `failed`. */
export interface Executor {
  execute(
    action: ActionRequest,
    decision: EvaluateResult,
    ctx: ExecutionContext,
  ): Promise<{ data?: unknown }>;
}

/** Decides actions whose rule says `approve`. May wait for a human, bounded by the approval timeout. */
export interface ApprovalHandler {
  approve(
    action: ActionRequest,
    decision: EvaluateResult,
    ctx: ExecutionContext,
  ): Promise<{ approved: boolean; reason?: string | undefined }>;
}

/** One row of the audit trail, with the column names of the `audit_log` table (the REST shape). */
export interface AuditRecord {
  readonly id: number;
  readonly session_id: string;
  /** RFC 3339, UTC, ending in `Z`. */
  readonly timestamp: string;
  readonly action_type: string;
  readonly action_target: string;
  readonly action_params: Record<string, unknown>;
  readonly action_desc: string | null;
  readonly risk_level: RiskLevel;
  readonly approval: Approval;
  readonly matched_rule: string;
  readonly human_decision: "approved" | "denied" | null;
  readonly result_status: ResultStatus | "pending";
  readonly result_data: unknown;
  readonly result_error: string | null;
  readonly agent_id: string | null;
  readonly parent_agent_id: string | null;
  readonly chain_id: string | null;
  readonly chain_depth: number | null;
  readonly policy_hash: string;
}

export interface AuditQuery {
  readonly sessionId?: string | undefined;
  readonly actionType?: string | undefined;
  /** Upper case. */
  readonly riskLevel?: RiskLevel | undefined;
  readonly resultStatus?: string | undefined;
  readonly agentId?: string | undefined;
  readonly matchedRule?: string | undefined;
  /** Inclusive. */
  readonly since?: Date | undefined;
  /** Exclusive. */
  readonly until?: Date | undefined;
  /** 0..10000; the transports apply the default of 1000. */
  readonly limit: number;
  readonly order: "asc" | "desc";
  /** Cursor: only ids after this one in the chosen order. */
  readonly afterId?: number | undefined;
  /**
   * A page stops before the row that would take it past this many bytes of row data (one row at
   * least), so rows of any size never exhaust memory (AEGIS_MAX_AUDIT_PAGE_BYTES, default 4 MiB).
   */
  readonly maxBytes?: number | undefined;
}

/** One page of the audit trail. */
export interface AuditPage {
  readonly records: AuditRecord[];
  /** The byte budget ended the page before `limit` rows: continue after the last record. */
  readonly truncated: boolean;
}
