// The Aegis REST JSON presentation (DESIGN §3, §3.1), in one place: snake_case field names,
// `"LOW"` and `"auto"` spellings, `null` for absent values, `{"error": ...}` bodies, and the
// body-shape routing (an object with `actions`, or an array, is a batch). Hand-written on purpose:
// the hot path is JSON.parse + a few typeof checks + JSON.stringify of a plain literal, with no
// reflection-driven message conversion per request.

import { AegisError } from "../../errors.js";
import type {
  AuditPage,
  AuditQuery,
  AuditRecord,
  PolicySnapshot,
  PolicyUpdate,
  Readiness,
} from "../../governance/index.js";
import type { ActionRequest, EvaluateResult, ExecuteResult } from "../../governance/types.js";
import { parseAuditQuery } from "./audit-query.js";

function bad(message: string): AegisError {
  return new AegisError("invalid_argument", message);
}

export function parseJson(body: Buffer | string): unknown {
  try {
    return JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch {
    throw bad("Invalid JSON");
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export type ActionBody =
  | { readonly batch: false; readonly action: ActionRequest }
  | { readonly batch: true; readonly actions: ActionRequest[] };

/**
 * Decodes the body of `POST /api/v1/evaluate` or `/execute`: one action, `{"actions": [...]}`
 * (which wins over top-level action fields) or a bare array.
 */
export function decodeActionBody(body: unknown): ActionBody {
  if (Array.isArray(body)) return { batch: true, actions: decodeActions(body) };
  if (!isObject(body)) {
    throw bad(`Request body must be a JSON object (an action) or an array of actions, got ${describe(body)}`);
  }
  const actions = body["actions"];
  if (actions !== undefined) {
    if (!Array.isArray(actions)) throw bad(`"actions" must be an array, got ${describe(actions)}`);
    return { batch: true, actions: decodeActions(actions) };
  }
  return { batch: false, action: decodeAction(body, undefined) };
}

/** Decodes the body of the `:batch` routes: `{"actions": [...]}` or a bare array. */
export function decodeBatchBody(body: unknown): ActionRequest[] {
  if (Array.isArray(body)) return decodeActions(body);
  if (isObject(body) && Array.isArray(body["actions"])) return decodeActions(body["actions"]);
  throw bad('Request body must be {"actions": [...]} or a JSON array of actions');
}

function decodeActions(items: unknown[]): ActionRequest[] {
  const out = new Array<ActionRequest>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = decodeAction(items[i], i);
  return out;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "string" ? "a string" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function optString(o: Record<string, unknown>, key: string, at: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw bad(`${at}${key} must be a string, got ${describe(v)}`);
  return v === "" ? undefined : v;
}

export function decodeAction(item: unknown, index: number | undefined): ActionRequest {
  const at = index === undefined ? "" : `actions[${index}]: `;
  if (!isObject(item)) {
    throw bad(
      index === undefined
        ? "The action must be a JSON object"
        : `actions[${index}] must be a JSON object, got ${describe(item)}`,
    );
  }
  // `type` is an alias used only when `action_type` is absent, so `"action_type": ""` stays an error.
  let actionType = item["action_type"];
  if (actionType === undefined) actionType = item["type"];
  if (actionType === undefined || actionType === null) throw bad(`${at}action_type is required`);
  if (typeof actionType !== "string")
    throw bad(`${at}action_type must be a string, got ${describe(actionType)}`);
  if (actionType === "") throw bad(`${at}action_type must not be empty`);

  const target = item["target"];
  if (target !== undefined && target !== null && typeof target !== "string") {
    throw bad(`${at}target must be a string, got ${describe(target)}`);
  }
  const params = item["params"];
  if (params !== undefined && params !== null && !isObject(params)) {
    throw bad(`${at}params must be a JSON object, got ${describe(params)}`);
  }
  // Its range is checked with every other field's bounds, for all transports (action-check.ts).
  const depth = item["chain_depth"];
  if (depth !== undefined && depth !== null && typeof depth !== "number") {
    throw bad(`${at}chain_depth must be an integer, got ${describe(depth)}`);
  }
  return {
    actionType,
    target: (target as string | null | undefined) ?? "",
    params: (params as Record<string, unknown> | null | undefined) ?? {},
    description: optString(item, "description", at),
    sessionId: optString(item, "session_id", at),
    agentId: optString(item, "agent_id", at),
    parentAgentId: optString(item, "parent_agent_id", at),
    chainId: optString(item, "chain_id", at),
    chainDepth: (depth as number | null | undefined) ?? undefined,
  };
}

function decisionJson(r: EvaluateResult) {
  return {
    action_type: r.actionType,
    target: r.target,
    risk_level: r.riskLevel,
    approval: r.approval,
    is_allowed: r.isAllowed,
    matched_rule: r.matchedRule,
    policy_hash: r.policyHash,
    // Absent only when no version store runs (a server without a database, as in unit harnesses).
    ...(r.policyVersion === undefined ? {} : { policy_version: r.policyVersion }),
  };
}

export function encodeDecision(r: EvaluateResult): string {
  return JSON.stringify(decisionJson(r));
}

export function encodeDecisions(rs: readonly EvaluateResult[]): string {
  return JSON.stringify(rs.map(decisionJson));
}

function executeJson(r: ExecuteResult) {
  return {
    action_type: r.actionType,
    target: r.target,
    status: r.status,
    data: r.data ?? null,
    error: r.error ?? null,
    risk_level: r.decision.riskLevel,
    approval: r.decision.approval,
    matched_rule: r.decision.matchedRule,
    audit_id: r.auditId,
  };
}

export function encodeExecuteResult(r: ExecuteResult): string {
  return JSON.stringify(executeJson(r));
}

export function encodeExecuteResults(rs: readonly ExecuteResult[]): string {
  return JSON.stringify(rs.map(executeJson));
}

export function encodePolicy(p: PolicySnapshot): string {
  return JSON.stringify({
    default_risk_level: p.view.default_risk_level,
    default_approval: p.view.default_approval,
    rules: p.view.rules,
    hash: p.hash,
    source: p.source,
    loaded_at: p.loadedAt.toISOString(),
    version: p.version?.id ?? null,
    principal: p.version?.principal ?? null,
  });
}

/** The optional `message` beside `yaml` (why the change; stored with the version). */
export function decodePolicyMessage(body: unknown): string | undefined {
  if (!isObject(body) || !("yaml" in body)) return undefined;
  const m = body["message"];
  if (m === undefined || m === null) return undefined;
  if (typeof m !== "string") throw bad(`"message" must be a string, got ${describe(m)}`);
  if (m.length > 1000) throw bad('"message" is longer than 1000 characters');
  return m === "" ? undefined : m;
}

/** `{"yaml": "..."}`, or a policy object (it has `rules` or `defaults`). */
export function decodePolicyUpdate(body: unknown): PolicyUpdate {
  if (!isObject(body)) throw bad(`Request body must be a JSON object, got ${describe(body)}`);
  if ("yaml" in body) {
    const yaml = body["yaml"];
    if (typeof yaml !== "string") throw bad(`"yaml" must be a string, got ${describe(yaml)}`);
    return { yaml };
  }
  if ("rules" in body || "defaults" in body) return { document: body };
  throw bad('Request body must be {"yaml": "<policy text>"} or a policy object with "rules" or "defaults"');
}

export function encodePolicyUpdated(r: {
  ruleCount: number;
  hash: string;
  version?: number | undefined;
}): string {
  return JSON.stringify({
    status: "updated",
    rule_count: r.ruleCount,
    ...(r.version === undefined ? {} : { version: r.version }),
    hash: r.hash,
  });
}

/** The query string of `GET /api/v1/audit` (shared with the audit layer's parser). */
export function decodeAuditQuery(search: URLSearchParams): AuditQuery {
  return parseAuditQuery(search);
}

export function encodeAuditRecords(records: readonly AuditRecord[]): string {
  return JSON.stringify(records);
}

/**
 * The body stays the seed's bare array, so where to continue travels in headers: a page that is
 * full, or that the byte budget cut short, names the `after_id` of the next one.
 */
export function auditPageHeaders(
  page: AuditPage,
  q: AuditQuery,
  search: URLSearchParams,
): Record<string, string> | undefined {
  const last = page.records[page.records.length - 1];
  if (last === undefined || !(page.truncated || page.records.length === q.limit)) return undefined;
  const next = new URLSearchParams(search);
  next.set("after_id", String(last.id));
  return {
    "x-next-after-id": String(last.id),
    link: `</api/v1/audit?${next.toString()}>; rel="next"`,
    ...(page.truncated ? { "x-page-truncated": "bytes" } : {}),
  };
}

export function encodeHealth(status: string, version: string, components: Record<string, string>): string {
  return JSON.stringify({ status, version, components });
}

export function encodeReadiness(r: Readiness, shuttingDown: boolean): string {
  const policy = {
    ...(r.policyVersion === undefined ? {} : { policy_version: r.policyVersion }),
    policy_hash: r.policyHash,
  };
  if (r.ready) return JSON.stringify({ status: "ready", components: r.components, ...policy });
  return JSON.stringify({
    status: shuttingDown ? "shutting_down" : "not_ready",
    reason: r.reason,
    components: r.components,
    ...policy,
  });
}

export function encodeError(message: string): string {
  return JSON.stringify({ error: message });
}
