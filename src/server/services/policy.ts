// aegis.v1.PolicyService: policy versions (history, one version, rollback), diffs, and the
// simulation of a candidate over recorded traffic.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { PolicyRef } from "../../../gen/aegis/v1/policy_service_pb.js";
import { PolicyService } from "../../../gen/aegis/v1/policy_service_pb.js";
import { AegisError } from "../../errors.js";
import type { GovernanceService } from "../../governance/index.js";
import {
  DEFAULT_EXAMPLES,
  DEFAULT_SIMULATION_ROWS,
  MAX_SIMULATION_ROWS,
  simulatePolicy,
} from "../../governance/policy-simulate.js";
import { compileText } from "../../governance/policy-source.js";
import { diffPolicies } from "../../policy/index.js";
import type { Policy } from "../../policy/types.js";
import type { PolicyVersion, VersionSummary } from "../../policy-store/index.js";
import { auditQueryFromProto, RISK_TO_PROTO, ruleToProto } from "./convert.js";
import { type ServedService, serve } from "./service-impl.js";

const DEFAULT_VERSIONS = 50;
const MAX_VERSIONS = 1000;

function versionToProto(v: VersionSummary | PolicyVersion, activeId: number | undefined) {
  return {
    id: BigInt(v.id),
    hash: v.hash,
    source: v.source,
    principal: v.principal,
    message: v.message ?? undefined,
    createdAt: timestampFromDate(v.createdAt),
    ruleCount: v.ruleCount,
    active: v.id === activeId,
    rollbackOf: v.rollbackOf === null ? undefined : BigInt(v.rollbackOf),
    text: "text" in v ? v.text : undefined,
  };
}

interface Resolved {
  readonly policy: Policy;
  readonly version: number | undefined;
}

/** A diffed field's value (plain data from a policy view) as a google.protobuf.Value. */
function protoValue(v: unknown): Value {
  return fromJson(ValueSchema, JSON.parse(JSON.stringify(v ?? null)) as JsonValue);
}

export function policyService(gov: GovernanceService): ServedService {
  const versions = () => {
    const v = gov.policyVersions;
    if (v === undefined) {
      throw new AegisError(
        "failed_precondition",
        "policy versions need a database (AEGIS_AUDIT_DB or DATABASE_URL); this server keeps its policy in memory",
      );
    }
    return v;
  };

  /** A version id, `active` (or nothing), or a candidate. */
  async function resolve(ref: PolicyRef | undefined, what: string): Promise<Resolved> {
    const active = gov.policyHolder.current;
    if (ref === undefined) return { policy: active.policy, version: active.version?.id };
    if (ref.yaml !== "" || ref.document !== undefined) {
      if (ref.yaml !== "" && ref.document !== undefined) {
        throw new AegisError("invalid_argument", `${what}: give yaml or document, not both`);
      }
      const c = gov.compileUpdate(
        ref.document !== undefined ? { document: ref.document } : { yaml: ref.yaml },
      );
      return { policy: c.policy, version: undefined };
    }
    const v = ref.version.trim();
    if (v === "" || v === "active") return { policy: active.policy, version: active.version?.id };
    if (!/^\d{1,15}$/.test(v)) {
      throw new AegisError(
        "invalid_argument",
        `${what} must be a version id, "active", or {"yaml": ...}; got ${JSON.stringify(ref.version)}`,
      );
    }
    const stored = await versions().get(Number(v));
    if (stored === undefined) throw new AegisError("not_found", `policy version ${v} does not exist`);
    return { policy: compileText(stored.text), version: stored.id };
  }

  const summary = (r: Resolved) => ({
    version: r.version === undefined ? undefined : BigInt(r.version),
    hash: r.policy.hash,
    ruleCount: r.policy.ruleCount,
  });

  return serve(PolicyService, {
    async listPolicyVersions(req) {
      const limit = Math.min(req.limit ?? DEFAULT_VERSIONS, MAX_VERSIONS);
      const after = req.afterId === undefined ? undefined : Number(req.afterId);
      const { versions: list, activeId } = await versions().list(limit, after);
      return {
        versions: list.map((v) => versionToProto(v, activeId)),
        activeId: activeId === undefined ? undefined : BigInt(activeId),
      };
    },
    async getPolicyVersion(req) {
      const v = await versions().get(Number(req.id));
      if (v === undefined) throw new AegisError("not_found", `policy version ${req.id} does not exist`);
      return { version: versionToProto(v, gov.policyHolder.current.version?.id) };
    },
    async activatePolicyVersion(req, call) {
      const { version, changed } = await versions().rollback(
        Number(req.id),
        call.principal.name,
        req.message === "" ? undefined : req.message,
      );
      return {
        status: changed ? "activated" : "unchanged",
        changed,
        version: versionToProto(
          version,
          version.id === gov.policyHolder.current.version?.id ? version.id : undefined,
        ),
      };
    },
    async diffPolicies(req) {
      const from = await resolve(req.from, "from");
      const to = await resolve(req.to, "to");
      const d = diffPolicies(from.policy.view, to.policy.view);
      const change = (c: { field: string; from: unknown; to: unknown }) => ({
        field: c.field,
        from: protoValue(c.from),
        to: protoValue(c.to),
      });
      return {
        from: summary(from),
        to: summary(to),
        identical: from.policy.hash === to.policy.hash,
        defaults: d.defaults.map(change),
        added: d.added.map(ruleToProto),
        removed: d.removed.map(ruleToProto),
        changed: d.changed.map((c) => ({ name: c.name, fields: c.fields.map(change) })),
      };
    },
    async simulatePolicy(req) {
      if (req.candidate === undefined) throw new AegisError("invalid_argument", "candidate is required");
      const active = await resolve(undefined, "active");
      const candidate = await resolve(req.candidate, "candidate");
      const q = auditQueryFromProto({
        ...req,
        limit: undefined,
        order: 0,
        afterId: undefined,
        pageToken: "",
      } as never);
      // Capped rather than refused: a preview of the newest 100,000 actions answers the question.
      const limit = Math.min(req.limit ?? DEFAULT_SIMULATION_ROWS, MAX_SIMULATION_ROWS);
      const r = await simulatePolicy(active.policy, candidate.policy, (page) => gov.queryAudit(page), {
        sample: q,
        limit,
        examples: req.examples ?? DEFAULT_EXAMPLES,
      });
      return {
        active: summary(active),
        candidate: summary(candidate),
        replayed: r.replayed,
        changed: r.changed,
        transitions: r.transitions.map((t) => ({
          transition: `${t.from} -> ${t.to}`,
          from: t.from,
          to: t.to,
          count: t.count,
          examples: t.examples.map((e) => ({
            auditId: BigInt(e.auditId),
            actionType: e.actionType,
            target: e.target,
            agentId: e.agentId ?? undefined,
            fromRule: e.from.matchedRule,
            toRule: e.to?.matchedRule ?? "",
            fromRisk: RISK_TO_PROTO[e.from.riskLevel],
            toRisk: e.to === undefined ? 0 : RISK_TO_PROTO[e.to.riskLevel],
            error: e.error,
          })),
        })),
        readSeconds: r.readSeconds,
        evaluateSeconds: r.evaluateSeconds,
        limit,
      };
    },
  });
}
