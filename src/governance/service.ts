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
import type { ActivePolicy, PolicyHolder, PolicySourceKind, VersionInfo } from "./policy-holder.js";
import { compileObject, compileText } from "./policy-source.js";
import type { PolicyCandidate, PolicyVersions } from "./policy-versions.js";
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
  /** Policy versions in the database; without them a PUT lasts until the next restart. */
  readonly versions?: PolicyVersions | undefined;
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
  /** The stored version being served (when versions live in a database). */
  readonly version?: VersionInfo | undefined;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
  readonly components: Record<string, string>;
  /** The policy this replica serves: a rollout can be checked through a load balancer. */
  readonly policyVersion?: number | undefined;
  readonly policyHash?: string | undefined;
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
  private readonly versions: PolicyVersions | undefined;

  constructor(options: GovernanceOptions) {
    this.agents = options.agents;
    this.versions = options.versions;
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
    return this.decide(this.policyHolder.current, this.bind(action, caller, undefined));
  }

  evaluateBatch(actions: readonly ActionRequest[], caller?: Caller): EvaluateResult[] {
    this.checkBatch(actions);
    // One policy reference for the whole batch: a concurrent swap never splits a batch.
    const policy = this.policyHolder.current;
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
    const policy = this.policyHolder.current;
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
        refused.push({ action, decision: refusedDecision(action, policy), blockReason: err.message });
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
    const { policy, source, loadedAt, version } = this.policyHolder.current;
    return { view: policy.view, hash: policy.hash, ruleCount: policy.ruleCount, source, loadedAt, version };
  }

  /** The policy an update describes, compiled; `invalid_argument` naming the problem. */
  compileUpdate(update: PolicyUpdate): PolicyCandidate {
    if ("yaml" in update) {
      if (typeof update.yaml !== "string")
        throw new AegisError("invalid_argument", '"yaml" must be a string');
      return { policy: compileText(update.yaml), text: update.yaml };
    }
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
    // Stored as JSON text, which is YAML too: a rollback compiles it like any file.
    return { policy: compileObject(doc), text: JSON.stringify(doc) };
  }

  /**
   * Validates, then makes the policy active: a stored version every replica serves when there is
   * a database (a PUT survives restarts), else this process's policy until the next restart. On
   * any error the active policy stays.
   */
  async updatePolicy(
    update: PolicyUpdate,
    caller?: Caller,
    message?: string,
  ): Promise<{ ruleCount: number; hash: string; version?: number | undefined }> {
    const candidate = this.compileUpdate(update);
    if (this.versions !== undefined) {
      const v = await this.versions.update(candidate, caller?.principal?.name ?? "anonymous", message);
      return { ruleCount: v.ruleCount, hash: v.hash, version: v.id };
    }
    this.policyHolder.replace(candidate.policy, "api");
    return { ruleCount: candidate.policy.ruleCount, hash: candidate.policy.hash };
  }

  /** Policy versions, history and rollback; undefined without a database. */
  get policyVersions(): PolicyVersions | undefined {
    return this.versions;
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
    const active = this.policyHolder.current;
    return {
      ready: reason === "",
      reason,
      components,
      policyVersion: active.version?.id,
      policyHash: active.policy.hash,
    };
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
  private decide(active: ActivePolicy, action: ActionRequest, index?: number): EvaluateResult {
    const suspended = this.agents?.suspensionOf(action.agentId);
    if (suspended !== undefined) return suspendedDecision(action, active);
    return decide(active, action, index);
  }

  private decideItem(active: ActivePolicy, action: ActionRequest, index: number | undefined): DecidedAction {
    const suspended = this.agents?.suspensionOf(action.agentId);
    if (suspended !== undefined) {
      return {
        action,
        decision: suspendedDecision(action, active),
        blockReason: `Agent ${JSON.stringify(action.agentId)} is suspended: ${suspended.reason}`,
      };
    }
    return { action, decision: decide(active, action, index) };
  }
}

/** What `matched_rule` says when the kill switch decided. */
export const SUSPENDED_RULE = "<suspended>";
/** What `matched_rule` says for an execute refused because its key may not use the agent id. */
export const REFUSED_RULE = "<agent-binding>";

function suspendedDecision(action: ActionRequest, active: ActivePolicy): EvaluateResult {
  return {
    actionType: action.actionType,
    target: action.target,
    riskLevel: "CRITICAL",
    approval: "block",
    isAllowed: false,
    matchedRule: SUSPENDED_RULE,
    policyHash: active.policy.hash,
    policyVersion: active.version?.id,
  };
}

function refusedDecision(action: ActionRequest, active: ActivePolicy): EvaluateResult {
  return { ...suspendedDecision(action, active), matchedRule: REFUSED_RULE };
}

function where(index: number | undefined): string {
  return index === undefined ? "" : `actions[${index}]: `;
}

function decide(active: ActivePolicy, action: ActionRequest, index?: number): EvaluateResult {
  const policy = active.policy;
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
    policyVersion: active.version?.id,
  };
}
