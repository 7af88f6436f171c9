// The governance service: one implementation of every operation, called by all transports
// (REST, gRPC, gRPC-Web, Connect). It speaks domain types only and knows nothing about HTTP.

import type { AgentRegistry } from "../agents/index.js";
import { AegisError } from "../errors.js";
import { effectiveAgentId } from "../identity/index.js";
import { PolicyEvaluationError } from "../policy/index.js";
import type { Policy, PolicyView } from "../policy/types.js";
import { type ActionLimits, checkAction, DEFAULT_ACTION_LIMITS } from "./action-check.js";
import type { DecidedAction, ExecutePipeline } from "./execute-pipeline.js";
import { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json-depth.js";
import type { PolicyHolder, PolicySourceKind } from "./policy-holder.js";
import { compileObject, compileText } from "./policy-source.js";
import { newSessionId } from "./session.js";
import type {
  ActionRequest,
  AuditPage,
  AuditQuery,
  Caller,
  EvaluateResult,
  ExecuteResult,
  ExecutionContext,
} from "./types.js";

const NO_AUDIT_STORE = "execute and audit need an audit store; none is configured";

/** The read side of the audit trail (the audit store). */
export interface AuditLog {
  query(q: AuditQuery): Promise<AuditPage>;
}

export interface GovernanceOptions {
  readonly policy: PolicyHolder;
  /** Largest batch accepted by EvaluateBatch and ExecuteBatch. */
  readonly maxBatch: number;
  /** Runs executes (approval, executor, audit rows); absent: evaluate only. */
  readonly pipeline?: ExecutePipeline | undefined;
  /** Answers QueryAudit; absent: audit queries are `unimplemented`. */
  readonly auditLog?: AuditLog | undefined;
  /** The process's session id (12 hex characters); random when omitted. */
  readonly sessionId?: string | undefined;
  /** The agent registry: its suspensions block actions (the kill switch). */
  readonly agents?: Pick<AgentRegistry, "suspensionOf"> | undefined;
  /** Per-field bounds on actions (default DEFAULT_ACTION_LIMITS). */
  readonly actionLimits?: ActionLimits | undefined;
  /** Row data one audit page carries at most (AEGIS_MAX_AUDIT_PAGE_BYTES; the store's default). */
  readonly maxAuditPageBytes?: number | undefined;
}

/** `{yaml}` text or a policy document object. */
export type PolicyUpdate = { readonly yaml: string } | { readonly document: unknown };

export interface PolicySnapshot {
  readonly view: PolicyView;
  readonly hash: string;
  readonly ruleCount: number;
  readonly source: PolicySourceKind;
  readonly loadedAt: Date;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
  readonly components: Record<string, string>;
}

export class GovernanceService {
  readonly sessionId: string;
  readonly maxBatch: number;
  readonly policyHolder: PolicyHolder;
  private readonly pipeline: ExecutePipeline | undefined;
  private readonly auditLog: AuditLog | undefined;
  private readonly limits: ActionLimits;
  private readonly maxAuditPageBytes: number | undefined;
  private readonly agents: Pick<AgentRegistry, "suspensionOf"> | undefined;

  constructor(options: GovernanceOptions) {
    this.agents = options.agents;
    this.maxAuditPageBytes = options.maxAuditPageBytes;
    this.policyHolder = options.policy;
    this.limits = options.actionLimits ?? DEFAULT_ACTION_LIMITS;
    this.maxBatch = options.maxBatch;
    this.pipeline = options.pipeline;
    this.auditLog = options.auditLog;
    this.sessionId = options.sessionId ?? newSessionId();
  }

  get auditConfigured(): boolean {
    return this.pipeline !== undefined;
  }

  /** Synchronous on purpose: the hot path allocates one result and awaits nothing. */
  evaluate(action: ActionRequest, caller?: Caller): EvaluateResult {
    checkAction(action, undefined, this.limits);
    return this.decide(this.policyHolder.current.policy, this.bind(action, caller, undefined));
  }

  evaluateBatch(actions: readonly ActionRequest[], caller?: Caller): EvaluateResult[] {
    this.checkBatch(actions);
    // One policy reference for the whole batch: a concurrent swap never splits a batch.
    const policy = this.policyHolder.current.policy;
    const bound = actions.map((a, i) => this.bind(a, caller, i));
    const out = new Array<EvaluateResult>(bound.length);
    for (let i = 0; i < bound.length; i++) out[i] = this.decide(policy, bound[i]!, i);
    return out;
  }

  async execute(action: ActionRequest, caller?: Caller): Promise<ExecuteResult> {
    const [result] = await this.executeItems([action], undefined, caller);
    if (!result) throw new AegisError("internal", "the execute pipeline returned no result");
    return result;
  }

  async executeBatch(actions: readonly ActionRequest[], caller?: Caller): Promise<ExecuteResult[]> {
    this.checkBatch(actions);
    if (actions.length === 0) {
      this.requirePipeline();
      return [];
    }
    return this.executeItems(actions, 0, caller);
  }

  /**
   * Decides every action, then hands them over. An action whose agent_id the caller's key may not
   * use is recorded as a refused attempt (a `blocked` row saying why) and the whole call is
   * `permission_denied`: nothing of it runs.
   */
  private async executeItems(
    actions: readonly ActionRequest[],
    firstIndex: number | undefined,
    caller: Caller | undefined,
  ): Promise<ExecuteResult[]> {
    if (firstIndex === undefined) checkAction(actions[0]!, undefined, this.limits);
    const pipeline = this.requirePipeline();
    const policy = this.policyHolder.current.policy;
    const ctx = this.context(caller);
    const refused: DecidedAction[] = [];
    let refusal: AegisError | undefined;
    const items: DecidedAction[] = [];
    actions.forEach((action, i) => {
      const index = firstIndex === undefined ? undefined : firstIndex + i;
      try {
        items.push(this.decideItem(policy, this.bind(action, caller, index), index));
      } catch (err) {
        if (!(err instanceof AegisError) || err.code !== "permission_denied") throw err;
        refusal ??= err;
        refused.push({ action, decision: refusedDecision(action, policy.hash), blockReason: err.message });
      }
    });
    if (refusal !== undefined) {
      // Refused either way: an audit store that cannot record the attempt must not turn a 403
      // into a 503 the client would retry.
      await pipeline.execute(refused, ctx).catch(() => undefined);
      throw refusal;
    }
    return pipeline.execute(items, ctx);
  }

  async queryAudit(q: AuditQuery): Promise<AuditPage> {
    if (!this.auditLog) throw new AegisError("unimplemented", NO_AUDIT_STORE);
    if (q.limit <= 0) return { records: [], truncated: false };
    return this.auditLog.query(q.maxBytes === undefined ? { ...q, maxBytes: this.maxAuditPageBytes } : q);
  }

  getPolicy(): PolicySnapshot {
    const { policy, source, loadedAt } = this.policyHolder.current;
    return { view: policy.view, hash: policy.hash, ruleCount: policy.ruleCount, source, loadedAt };
  }

  /** Validates, then swaps atomically; on any error the active policy stays. */
  updatePolicy(update: PolicyUpdate): { ruleCount: number; hash: string } {
    let policy: Policy;
    if ("yaml" in update) {
      if (typeof update.yaml !== "string")
        throw new AegisError("invalid_argument", '"yaml" must be a string');
      policy = compileText(update.yaml);
    } else {
      const doc = update.document;
      if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new AegisError("invalid_argument", "the policy must be a JSON object");
      }
      if (exceedsJsonDepth(doc)) {
        throw new AegisError(
          "invalid_argument",
          `the policy is nested more than ${MAX_JSON_DEPTH} levels deep`,
        );
      }
      policy = compileObject(doc);
    }
    this.policyHolder.replace(policy, "api");
    return { ruleCount: policy.ruleCount, hash: policy.hash };
  }

  async readiness(): Promise<Readiness> {
    const components: Record<string, string> = { policy: "ok" };
    let reason = "";
    if (this.pipeline) {
      try {
        const h = await this.pipeline.health();
        components["audit"] = h.ok ? "ok" : "unavailable";
        if (!h.ok) reason = `audit store unavailable: ${h.reason ?? "unknown reason"}`;
      } catch (err) {
        components["audit"] = "unavailable";
        reason = `audit store unavailable: ${err instanceof Error ? err.message : String(err)}`;
      }
    } else {
      components["audit"] = "not_configured";
    }
    return { ready: reason === "", reason, components };
  }

  /** Waits for running executes and drains the audit queue. */
  async close(): Promise<void> {
    await this.pipeline?.close();
  }

  private checkBatch(actions: readonly ActionRequest[]): void {
    if (actions.length > this.maxBatch) {
      throw new AegisError(
        "invalid_argument",
        `batch of ${actions.length} actions exceeds the limit of ${this.maxBatch} (AEGIS_MAX_BATCH)`,
      );
    }
    for (let i = 0; i < actions.length; i++) checkAction(actions[i]!, i, this.limits);
  }

  private requirePipeline(): ExecutePipeline {
    if (!this.pipeline) throw new AegisError("unimplemented", NO_AUDIT_STORE);
    return this.pipeline;
  }

  private context(caller: Caller | undefined): ExecutionContext {
    return {
      sessionId: this.sessionId,
      requestId: caller?.requestId,
      signal: caller?.signal,
      principal: caller?.principal?.name,
    };
  }

  /** The action as the caller's key may send it: its agent id bound (identity/agent-binding.ts). */
  private bind(action: ActionRequest, caller: Caller | undefined, index: number | undefined): ActionRequest {
    if (caller?.principal === undefined) return action;
    const agentId = effectiveAgentId(caller.principal, action.agentId, where(index));
    return agentId === action.agentId ? action : { ...action, agentId };
  }

  /** The policy's decision, or the kill switch's when the agent id is suspended. */
  private decide(policy: Policy, action: ActionRequest, index?: number): EvaluateResult {
    const suspended = this.agents?.suspensionOf(action.agentId);
    if (suspended !== undefined) return suspendedDecision(action, policy.hash);
    return decide(policy, action, index);
  }

  private decideItem(policy: Policy, action: ActionRequest, index: number | undefined): DecidedAction {
    const suspended = this.agents?.suspensionOf(action.agentId);
    if (suspended !== undefined) {
      return {
        action,
        decision: suspendedDecision(action, policy.hash),
        blockReason: `Agent ${JSON.stringify(action.agentId)} is suspended: ${suspended.reason}`,
      };
    }
    return { action, decision: decide(policy, action, index) };
  }
}

/** What `matched_rule` says when the kill switch decided. */
export const SUSPENDED_RULE = "<suspended>";
/** What `matched_rule` says for an execute refused because its key may not use the agent id. */
export const REFUSED_RULE = "<agent-binding>";

function suspendedDecision(action: ActionRequest, policyHash: string): EvaluateResult {
  return {
    actionType: action.actionType,
    target: action.target,
    riskLevel: "CRITICAL",
    approval: "block",
    isAllowed: false,
    matchedRule: SUSPENDED_RULE,
    policyHash,
  };
}

function refusedDecision(action: ActionRequest, policyHash: string): EvaluateResult {
  return { ...suspendedDecision(action, policyHash), matchedRule: REFUSED_RULE };
}

function where(index: number | undefined): string {
  return index === undefined ? "" : `actions[${index}]: `;
}

function decide(policy: Policy, action: ActionRequest, index?: number): EvaluateResult {
  let d: ReturnType<Policy["evaluate"]>;
  try {
    d = policy.evaluate(action);
  } catch (err) {
    if (err instanceof PolicyEvaluationError)
      throw new AegisError("invalid_argument", `${where(index)}${err.message}`);
    throw err;
  }
  return {
    actionType: action.actionType,
    target: action.target,
    riskLevel: d.riskLevel,
    approval: d.approval,
    isAllowed: d.isAllowed,
    matchedRule: d.matchedRule,
    policyHash: policy.hash,
  };
}
