// The audit store: where every governed action leaves its row (DESIGN §5), in the process's one
// database (storage/: PostgreSQL or embedded PGlite, same SQL). Writers go through the
// BatchWriter (group commit); readers call `query` directly.
import type { Approval, RiskLevel } from "../policy/types.js";
import type { DatabaseKind } from "../storage/index.js";
import type { AuditPage, AuditQuery, ResultStatus } from "./types.js";

export type StoredStatus = ResultStatus | "pending";

/** A row to insert: a `pending` row before an action runs, or a final row (blocked, denied). */
export interface NewAuditRow {
  readonly sessionId: string;
  readonly timestamp: Date;
  readonly actionType: string;
  readonly actionTarget: string;
  /** Already redacted. */
  readonly actionParams: Readonly<Record<string, unknown>>;
  /** `null` (or empty) when the action has no description. */
  readonly actionDesc: string | null;
  readonly riskLevel: RiskLevel;
  readonly approval: Approval;
  readonly matchedRule: string;
  readonly humanDecision: "approved" | "denied" | null;
  readonly resultStatus: StoredStatus;
  readonly resultData: unknown;
  readonly resultError: string | null;
  readonly agentId: string | null;
  readonly parentAgentId: string | null;
  readonly chainId: string | null;
  readonly chainDepth: number | null;
  readonly policyHash: string;
  /** The name of the key that asked; null when unknown (rows written before principals). */
  readonly principal: string | null;
}

/** Completes a `pending` row once its executor has finished. */
export interface RowCompletion {
  readonly id: number;
  readonly resultStatus: "success" | "failed";
  readonly resultData: unknown;
  readonly resultError: string | null;
}

/** A flush whose commit is in doubt: its write id and the time span of its rows. */
export interface UnacknowledgedWrite {
  readonly writeId: string;
  readonly since: Date;
  readonly until: Date;
}

export interface StoreHealth {
  readonly ok: boolean;
  /** Why the store is not usable, when `ok` is false. */
  readonly reason?: string | undefined;
}

export type StoreKind = DatabaseKind;

export interface AuditStore {
  readonly kind: StoreKind;
  /** Where the data lives, for logs and `/health` (never contains a password). */
  readonly location: string;
  /** Applies the database's pending migrations (idempotent, safe when several processes start at once). */
  migrate(): Promise<void>;
  /**
   * Inserts `inserts` and completes `completions` in ONE atomic statement (one commit). Resolves
   * with the ids of the inserted rows, in input order, only after the commit. Rejects with an
   * AegisError: `unavailable` when the database cannot be reached, `invalid_argument` when a row's
   * data cannot be stored (say a NUL character), `internal` otherwise.
   */
  writeBatch(
    inserts: readonly NewAuditRow[],
    completions: readonly RowCompletion[],
    writeId?: string,
  ): Promise<number[]>;
  /**
   * After a write whose outcome is unknown (its connection failed or timed out after sending):
   * marks the rows it may have committed that are still `pending` as `failed` with `reason`, since
   * their callers were answered `unavailable` and their actions never ran. Resolves with how many.
   */
  failUnacknowledged(write: UnacknowledgedWrite, reason: string): Promise<number>;
  /** Rows matching `q`, ordered by id; `q.limit` rows and `q.maxBytes` of row data at most. */
  query(q: AuditQuery): Promise<AuditPage>;
  /** Resolves when the database answers within `timeoutMs`; rejects with `unavailable` otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  /** Closes the database when the store owns it (openAuditStore); else nothing. */
  close(): Promise<void>;
}
