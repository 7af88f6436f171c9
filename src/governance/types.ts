// Domain types of the governance service: what the handlers take and return, independent of
// any wire encoding. The REST codec and the Connect service both translate to and from these.
import type { ResultStatus } from "../audit/types.js";
import type { Principal } from "../identity/index.js";
import type { Decision } from "../policy/types.js";

export type { AuditPage, AuditQuery, AuditRecord, ResultStatus } from "../audit/types.js";

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
  /** The stored policy version that decided (when versions live in a database). */
  readonly policyVersion?: number | undefined;
}

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
  /** The name of the key that asked; recorded with every audit row. */
  readonly principal?: string | undefined;
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

export type { ApprovalHandler } from "./approval.js";

/** Who makes a call, as the transport's call pipeline knows it. */
export interface Caller {
  /** The key's principal: its name is recorded, its agent binding enforced. */
  readonly principal?: Principal | undefined;
  readonly requestId?: string | undefined;
  /** Aborted when the caller goes away. */
  readonly signal?: AbortSignal | undefined;
}
