// aegis.v1.GovernanceService: the one implementation every transport serves (Connect-Node's
// gRPC, gRPC-Web and Connect; the unary gRPC fast path; the REST routes call the same governance
// operations through their own codec). Proto in, domain types to the governance service, proto out.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  EvaluateBatchResponseSchema,
  EvaluateResponseSchema,
  ExecuteBatchResponseSchema,
  ExecuteResponseSchema,
  GovernanceService as GovernanceServiceDesc,
} from "../../../gen/aegis/v1/governance_service_pb.js";
import { AegisError } from "../../errors.js";
import type { GovernanceService } from "../../governance/index.js";
import type { Caller } from "../../governance/types.js";
import { readVersion } from "../../version.js";
import type { Call } from "../call.js";
import type { HealthState } from "../health.js";
import {
  actionFromProto,
  auditQueryFromProto,
  auditRecordToProto,
  decisionToProto,
  encodePageToken,
  executeResultToProto,
  policyToProto,
} from "./convert.js";
import { type ServedService, serve } from "./service-impl.js";

/** Who makes the call, for the governance service. */
export function callContext(call: Call): Caller {
  return { principal: call.principal, requestId: call.requestId, signal: call.signal };
}

export function governanceService(gov: GovernanceService, health: HealthState): ServedService {
  return serve(GovernanceServiceDesc, {
    evaluate: (req, call) =>
      create(EvaluateResponseSchema, {
        decision: decisionToProto(gov.evaluate(actionFromProto(req.action), { principal: call.principal })),
      }),
    evaluateBatch(req, call) {
      const actions = req.actions.map((a, i) => actionFromProto(a, i));
      return create(EvaluateBatchResponseSchema, {
        decisions: gov.evaluateBatch(actions, { principal: call.principal }).map(decisionToProto),
      });
    },
    async execute(req, call) {
      const result = await gov.execute(actionFromProto(req.action), callContext(call));
      return create(ExecuteResponseSchema, { result: executeResultToProto(result) });
    },
    async executeBatch(req, call) {
      const actions = req.actions.map((a, i) => actionFromProto(a, i));
      const results = await gov.executeBatch(actions, callContext(call));
      return create(ExecuteBatchResponseSchema, { results: results.map(executeResultToProto) });
    },
    async queryAudit(req) {
      const q = auditQueryFromProto(req);
      const { records, truncated } = await gov.queryAudit(q);
      const last = records[records.length - 1];
      const more = truncated || (q.limit > 0 && records.length === q.limit);
      return {
        records: records.map(auditRecordToProto),
        nextPageToken: more && last ? encodePageToken(last.id) : "",
      };
    },
    getPolicy: () => ({ policy: policyToProto(gov.getPolicy()) }),
    async updatePolicy(req, call) {
      const p = req.policy;
      if (p.case === undefined)
        throw new AegisError("invalid_argument", "policy is required (yaml or document)");
      const update = p.case === "yaml" ? { yaml: p.value } : { document: p.value };
      const r = await gov.updatePolicy(
        update,
        callContext(call),
        req.message === "" ? undefined : req.message,
      );
      return {
        status: "updated",
        ruleCount: r.ruleCount,
        hash: r.hash,
        version: r.version === undefined ? undefined : BigInt(r.version),
      };
    },
    getHealth() {
      const shutting = health.isShuttingDown;
      return {
        status: shutting ? "shutting_down" : "ok",
        version: readVersion(),
        components: { policy: "ok", audit: gov.auditConfigured ? "configured" : "not_configured" },
      };
    },
    async getReadiness() {
      const r = await health.current();
      return {
        status: r.ready ? "ready" : "not_ready",
        reason: r.reason,
        components: r.components,
        policyLoadedAt: timestampFromDate(gov.getPolicy().loadedAt),
        policyVersion: r.policyVersion === undefined ? undefined : BigInt(r.policyVersion),
        policyHash: r.policyHash,
      };
    },
  });
}
