// The audit trail's vocabulary: a row as every transport shows it (the `audit_log` column names),
// a query over rows, and a page of them. Governance and the transports speak these types; the
// store implements them (audit-store.ts).
import type { Approval, RiskLevel } from "../policy/types.js";

/** The outcome of an executed action. */
export type ResultStatus = "success" | "blocked" | "denied" | "failed";

/** Rows without `limit` at most; also the transports' default. */
export const DEFAULT_AUDIT_LIMIT = 1000;
/** `limit` is capped here. */
export const MAX_AUDIT_LIMIT = 10_000;

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
  /** The name of the key that asked (`anonymous` without keys); null for rows from before v0.2. */
  readonly principal: string | null;
}

export interface AuditQuery {
  readonly sessionId?: string | undefined;
  readonly actionType?: string | undefined;
  /** Upper case. */
  readonly riskLevel?: RiskLevel | undefined;
  readonly resultStatus?: string | undefined;
  readonly agentId?: string | undefined;
  readonly matchedRule?: string | undefined;
  readonly principal?: string | undefined;
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
