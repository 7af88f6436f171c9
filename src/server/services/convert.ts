// Proto messages <-> the domain types of the governance layer. Enums are typed in proto
// (RISK_LEVEL_LOW); the domain uses the REST spellings ("LOW"), so the tables below are the only
// translation.
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { QueryAuditRequest } from "../../../gen/aegis/v1/governance_service_pb.js";
import {
  type Action,
  Approval,
  type AuditRecord as AuditRecordMsg,
  AuditRecordSchema,
  type Decision,
  DecisionSchema,
  type ExecuteResult as ExecuteResultMsg,
  ExecuteResultSchema,
  HumanDecision,
  PolicySource,
  ResultStatus,
  RiskLevel,
  RuleSchema,
  SortOrder,
} from "../../../gen/aegis/v1/types_pb.js";
import { DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from "../../audit/types.js";
import { AegisError } from "../../errors.js";
import type { AuditQuery, AuditRecord, PolicySnapshot } from "../../governance/index.js";
import type { ActionRequest, EvaluateResult, ExecuteResult } from "../../governance/types.js";
import type { Approval as ApprovalName, RiskLevel as RiskName, RuleView } from "../../policy/types.js";
import { invert } from "../private/invert.js";

export const RISK_TO_PROTO: Record<RiskName, RiskLevel> = {
  LOW: RiskLevel.LOW,
  MEDIUM: RiskLevel.MEDIUM,
  HIGH: RiskLevel.HIGH,
  CRITICAL: RiskLevel.CRITICAL,
};
const RISK_FROM_PROTO = invert(RISK_TO_PROTO);
export const APPROVAL_TO_PROTO: Record<ApprovalName, Approval> = {
  auto: Approval.AUTO,
  approve: Approval.APPROVE,
  block: Approval.BLOCK,
};
const STATUS_TO_PROTO: Record<string, ResultStatus> = {
  success: ResultStatus.SUCCESS,
  blocked: ResultStatus.BLOCKED,
  denied: ResultStatus.DENIED,
  failed: ResultStatus.FAILED,
  pending: ResultStatus.PENDING,
};
const STATUS_FROM_PROTO = invert(STATUS_TO_PROTO);

function emptyToUndefined(s: string): string | undefined {
  return s === "" ? undefined : s;
}

export function actionFromProto(a: Action | undefined, index?: number): ActionRequest {
  if (!a) {
    throw new AegisError(
      "invalid_argument",
      index === undefined ? "action is required" : `actions[${index}] is empty`,
    );
  }
  return {
    actionType: a.actionType,
    target: a.target,
    params: a.params ?? {},
    description: emptyToUndefined(a.description),
    sessionId: emptyToUndefined(a.sessionId),
    agentId: emptyToUndefined(a.agentId),
    parentAgentId: emptyToUndefined(a.parentAgentId),
    chainId: emptyToUndefined(a.chainId),
    chainDepth: a.chainDepth,
  };
}

export function decisionToProto(r: EvaluateResult): Decision {
  return create(DecisionSchema, {
    actionType: r.actionType,
    target: r.target,
    riskLevel: RISK_TO_PROTO[r.riskLevel],
    approval: APPROVAL_TO_PROTO[r.approval],
    isAllowed: r.isAllowed,
    matchedRule: r.matchedRule,
    policyHash: r.policyHash,
    policyVersion: r.policyVersion === undefined ? undefined : BigInt(r.policyVersion),
  });
}

function jsonValue(v: unknown) {
  return v === undefined || v === null ? undefined : fromJson(ValueSchema, v as JsonValue);
}

export function executeResultToProto(r: ExecuteResult): ExecuteResultMsg {
  return create(ExecuteResultSchema, {
    actionType: r.actionType,
    target: r.target,
    status: STATUS_TO_PROTO[r.status] ?? ResultStatus.UNSPECIFIED,
    data: jsonValue(r.data),
    error: r.error ?? undefined,
    decision: decisionToProto(r.decision),
    auditId: BigInt(r.auditId),
  });
}

export function auditRecordToProto(r: AuditRecord): AuditRecordMsg {
  return create(AuditRecordSchema, {
    id: BigInt(r.id),
    sessionId: r.session_id,
    timestamp: timestampFromDate(new Date(r.timestamp)),
    actionType: r.action_type,
    actionTarget: r.action_target,
    actionParams: r.action_params as Record<string, JsonValue>,
    actionDesc: r.action_desc ?? undefined,
    riskLevel: RISK_TO_PROTO[r.risk_level],
    approval: APPROVAL_TO_PROTO[r.approval],
    matchedRule: r.matched_rule,
    humanDecision:
      r.human_decision === "approved"
        ? HumanDecision.APPROVED
        : r.human_decision === "denied"
          ? HumanDecision.DENIED
          : HumanDecision.UNSPECIFIED,
    resultStatus: STATUS_TO_PROTO[r.result_status] ?? ResultStatus.UNSPECIFIED,
    resultData: jsonValue(r.result_data),
    resultError: r.result_error ?? undefined,
    agentId: r.agent_id ?? undefined,
    parentAgentId: r.parent_agent_id ?? undefined,
    chainId: r.chain_id ?? undefined,
    chainDepth: r.chain_depth ?? undefined,
    policyHash: r.policy_hash,
    principal: r.principal ?? undefined,
  });
}

const PAGE_TOKEN_PREFIX = "after:";

/** Page tokens are opaque to clients; inside they carry the last id of the previous page. */
export function encodePageToken(lastId: number): string {
  return Buffer.from(`${PAGE_TOKEN_PREFIX}${lastId}`).toString("base64url");
}

export function decodePageToken(token: string): number {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const id = text.startsWith(PAGE_TOKEN_PREFIX) ? text.slice(PAGE_TOKEN_PREFIX.length) : "";
  if (!/^\d+$/.test(id)) throw new AegisError("invalid_argument", "page_token is not valid");
  return Number(id);
}

// RFC 3339's range, as the Timestamp type documents it: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

function timestampParam(name: string, t: Timestamp | undefined): Date | undefined {
  if (t === undefined) return undefined;
  if (t.seconds < MIN_SECONDS || t.seconds > MAX_SECONDS || t.nanos < 0 || t.nanos > 999_999_999) {
    throw new AegisError(
      "invalid_argument",
      `${name} is out of range: a Timestamp must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z with nanos from 0 to 999999999`,
    );
  }
  return timestampDate(t);
}

export function auditQueryFromProto(q: QueryAuditRequest): AuditQuery {
  let afterId = q.afterId === undefined ? undefined : Number(q.afterId);
  if (afterId !== undefined && afterId < 0)
    throw new AegisError("invalid_argument", "after_id must not be negative");
  if (q.pageToken !== "") afterId = decodePageToken(q.pageToken);
  return {
    sessionId: emptyToUndefined(q.sessionId),
    actionType: emptyToUndefined(q.actionType),
    riskLevel: RISK_FROM_PROTO[q.riskLevel],
    resultStatus: STATUS_FROM_PROTO[q.resultStatus],
    agentId: emptyToUndefined(q.agentId),
    matchedRule: emptyToUndefined(q.matchedRule),
    principal: emptyToUndefined(q.principal),
    since: timestampParam("since", q.since),
    until: timestampParam("until", q.until),
    limit: Math.min(q.limit ?? DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT),
    order: q.order === SortOrder.DESC ? "desc" : "asc",
    afterId,
  };
}

/** The active policy as the proto `Policy` message. */
export function policyToProto(p: PolicySnapshot) {
  return {
    defaultRiskLevel: RISK_TO_PROTO[p.view.default_risk_level],
    defaultApproval: APPROVAL_TO_PROTO[p.view.default_approval],
    rules: p.view.rules.map(ruleToProto),
    hash: p.hash,
    source: SOURCE_TO_PROTO[p.source],
    loadedAt: timestampFromDate(p.loadedAt),
    version: p.version === undefined ? undefined : BigInt(p.version.id),
    principal: p.version?.principal,
  };
}

const SOURCE_TO_PROTO: Record<PolicySnapshot["source"], PolicySource> = {
  file: PolicySource.FILE,
  api: PolicySource.API,
  rollback: PolicySource.ROLLBACK,
};

export function ruleToProto(r: RuleView) {
  return create(RuleSchema, {
    name: r.name,
    matchType: r.match_type,
    matchTarget: r.match_target ?? undefined,
    matchAgent: r.match_agent ?? undefined,
    riskLevel: RISK_TO_PROTO[r.risk_level],
    approval: APPROVAL_TO_PROTO[r.approval],
    conditions: (r.conditions ?? undefined) as Record<string, JsonValue> | undefined,
  });
}
