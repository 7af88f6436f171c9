// The REST side of the seed's RPCs (DESIGN §3), keyed by the method's local name: their JSON
// shapes are hand-written (codec.ts) because the original server's clients depend on them. Every
// other annotated RPC is served by `genericRestHandler` from the same implementation object the
// other transports serve. The route table itself comes from the proto annotations (router.ts).

import { create } from "@bufbuild/protobuf";
import type { GovernanceService as GovernanceServiceDesc } from "../../../gen/aegis/v1/governance_service_pb.js";
import type { GovernanceService } from "../../governance/index.js";
import { readVersion } from "../../version.js";
import type { Call } from "../call.js";
import type { HealthState } from "../health.js";
import { callContext } from "../services/governance.js";
import type { ServedMethod } from "../services/service-impl.js";
import * as codec from "./codec.js";
import { requestFromRest, responseToRest } from "./proto-json.js";
import type { RestRoute } from "./router.js";

export interface RestCall {
  /** The raw body; empty for routes without one. */
  readonly body: Buffer;
  /** The query string without `?`, or "". */
  readonly query: string;
  /** The route's path variables, decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly call: Call;
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

/** The seed's routes, by the local name of their RPC. */
export function seedRestHandlers(
  gov: GovernanceService,
  health: HealthState,
): Record<MethodName, RestHandler> {
  return {
    evaluate(call) {
      const b = codec.decodeActionBody(codec.parseJson(call.body));
      return b.batch
        ? ok(codec.encodeDecisions(gov.evaluateBatch(b.actions, call.call)))
        : ok(codec.encodeDecision(gov.evaluate(b.action, call.call)));
    },
    evaluateBatch(call) {
      const actions = codec.decodeBatchBody(codec.parseJson(call.body));
      return ok(codec.encodeDecisions(gov.evaluateBatch(actions, call.call)));
    },
    async execute(call) {
      const b = codec.decodeActionBody(codec.parseJson(call.body));
      const ctx = callContext(call.call);
      return b.batch
        ? ok(codec.encodeExecuteResults(await gov.executeBatch(b.actions, ctx)))
        : ok(codec.encodeExecuteResult(await gov.execute(b.action, ctx)));
    },
    async executeBatch(call) {
      const actions = codec.decodeBatchBody(codec.parseJson(call.body));
      return ok(codec.encodeExecuteResults(await gov.executeBatch(actions, callContext(call.call))));
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
    async updatePolicy(call) {
      const body = codec.parseJson(call.body);
      const update = codec.decodePolicyUpdate(body);
      return ok(
        codec.encodePolicyUpdated(await gov.updatePolicy(update, call.call, codec.decodePolicyMessage(body))),
      );
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

/**
 * Any other annotated RPC: the request message from path, query and body, the implementation,
 * the response as Aegis JSON. `status` is the route's success status (201 for a creation).
 */
export function genericRestHandler(route: RestRoute, served: ServedMethod, status = 200): RestHandler {
  const impl = served.impl as (req: unknown, call: Call) => unknown;
  return async (c) => {
    const body = route.body === "" ? undefined : c.body.length === 0 ? {} : codec.parseJson(c.body);
    const req = requestFromRest(route, c.params, new URLSearchParams(c.query), body);
    const out = create(route.method.output, (await impl(req, c.call)) as never);
    return { status, body: responseToRest(route, out as unknown as Record<string, unknown>) };
  };
}
