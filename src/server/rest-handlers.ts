// The REST side of each RPC, keyed by the method's local name (the route table itself comes from
// the proto annotations). Each handler decodes with the REST codec, calls the governance service
// (the same call the Connect implementation makes) and encodes the reply.

import type { GovernanceService as GovernanceServiceDesc } from "../../gen/aegis/v1/governance_service_pb.js";
import type { GovernanceService } from "../governance/index.js";
import { readVersion } from "../version.js";
import type { HeaderGetter } from "./auth.js";
import type { HealthState } from "./health.js";
import * as codec from "./rest-codec.js";

export interface RestCall {
  /** The raw body; empty for routes without one. */
  readonly body: Buffer;
  /** The query string without `?`, or "". */
  readonly query: string;
  readonly header: HeaderGetter;
  readonly requestId: string;
}

export interface RestReply {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export type RestHandler = (call: RestCall) => RestReply | Promise<RestReply>;

type MethodName = keyof (typeof GovernanceServiceDesc)["method"];

function ok(body: string): RestReply {
  return { status: 200, body };
}

export function restHandlers(gov: GovernanceService, health: HealthState): Record<MethodName, RestHandler> {
  return {
    evaluate(call) {
      const b = codec.decodeActionBody(codec.parseJson(call.body));
      return b.batch
        ? ok(codec.encodeDecisions(gov.evaluateBatch(b.actions)))
        : ok(codec.encodeDecision(gov.evaluate(b.action)));
    },
    evaluateBatch(call) {
      return ok(codec.encodeDecisions(gov.evaluateBatch(codec.decodeBatchBody(codec.parseJson(call.body)))));
    },
    async execute(call) {
      const b = codec.decodeActionBody(codec.parseJson(call.body));
      const ctx = { requestId: call.requestId };
      return b.batch
        ? ok(codec.encodeExecuteResults(await gov.executeBatch(b.actions, ctx)))
        : ok(codec.encodeExecuteResult(await gov.execute(b.action, ctx)));
    },
    async executeBatch(call) {
      const actions = codec.decodeBatchBody(codec.parseJson(call.body));
      return ok(codec.encodeExecuteResults(await gov.executeBatch(actions, { requestId: call.requestId })));
    },
    async queryAudit(call) {
      const search = new URLSearchParams(call.query);
      const q = codec.decodeAuditQuery(search);
      const page = await gov.queryAudit(q);
      return {
        status: 200,
        body: codec.encodeAuditRecords(page.records),
        headers: codec.auditPageHeaders(page, q, search),
      };
    },
    getPolicy() {
      return ok(codec.encodePolicy(gov.getPolicy()));
    },
    updatePolicy(call) {
      const { ruleCount } = gov.updatePolicy(codec.decodePolicyUpdate(codec.parseJson(call.body)));
      return ok(codec.encodePolicyUpdated(ruleCount));
    },
    getHealth() {
      const shutting = health.isShuttingDown;
      return {
        status: shutting ? 503 : 200,
        body: codec.encodeHealth(shutting ? "shutting_down" : "ok", readVersion(), {
          policy: "ok",
          audit: gov.auditConfigured ? "configured" : "not_configured",
        }),
      };
    },
    async getReadiness() {
      const r = await health.current();
      return { status: r.ready ? 200 : 503, body: codec.encodeReadiness(r, health.isShuttingDown) };
    },
  };
}
