// Everything this server serves, assembled once: the services with their implementations, their
// methods by request path (with access levels), and the REST routes of their annotations, each
// with its handler (the seed's hand-written ones, or the generic proto-JSON one).
import { getOption, hasOption } from "@bufbuild/protobuf";
import { GovernanceService as GovernanceServiceDesc } from "../../gen/aegis/v1/governance_service_pb.js";
import { rest_status } from "../../gen/aegis/v1/options_pb.js";
import type { AgentRegistry } from "../agents/index.js";
import type { GovernanceService } from "../governance/index.js";
import type { KeyRing } from "../identity/index.js";
import { type CallObserver, CallPipeline } from "./call.js";
import type { Cors } from "./cors.js";
import { type AegisRequestHandler, createRequestHandler } from "./handler.js";
import type { HealthState } from "./health.js";
import { healthService } from "./health.js";
import type { Logger } from "./logger.js";
import { reflectionServices } from "./reflection.js";
import { createRequestIds } from "./request-id.js";
import { genericRestHandler, type RestHandler, seedRestHandlers } from "./rest/handlers.js";
import { type RestRoute, routesOf } from "./rest/router.js";
import { agentService, guardrailService } from "./services/agents.js";
import { governanceService } from "./services/governance.js";
import { policyService } from "./services/policy.js";
import { methodsByPath, type ServedMethod, type ServedService } from "./services/service-impl.js";

export interface Served {
  readonly services: readonly ServedService[];
  readonly methods: ReadonlyMap<string, ServedMethod>;
  readonly rest: {
    readonly routes: readonly RestRoute[];
    readonly handlerFor: (route: RestRoute) => RestHandler;
  };
}

export function assembleServices(
  governance: GovernanceService,
  health: HealthState,
  agents: AgentRegistry | undefined,
): Served {
  const api = [
    governanceService(governance, health),
    policyService(governance),
    agentService(agents),
    guardrailService(),
  ];
  const services = [
    ...api,
    healthService(health),
    ...reflectionServices([...api.map((s) => s.desc), healthService(health).desc]),
  ];
  const methods = methodsByPath(services);
  const seed: Record<string, RestHandler> = seedRestHandlers(governance, health);
  const handlerFor = (route: RestRoute): RestHandler => {
    const m = route.method;
    if (m.parent.typeName === GovernanceServiceDesc.typeName && seed[m.localName] !== undefined) {
      return seed[m.localName] as RestHandler;
    }
    const served = methods.get(`/${m.parent.typeName}/${m.name}`);
    if (served === undefined) throw new Error(`no implementation for ${m.parent.typeName}.${m.name}`);
    return genericRestHandler(route, served, hasOption(m, rest_status) ? getOption(m, rest_status) : 200);
  };
  return { services, methods, rest: { routes: routesOf(api.map((s) => s.desc)), handlerFor } };
}

export interface HandlerOptions {
  readonly governance: GovernanceService;
  readonly health: HealthState;
  readonly agents?: AgentRegistry | undefined;
  /** The keys in force (a function: the keys file can be reloaded). */
  readonly keys: () => KeyRing;
  readonly cors: Cors;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly observers?: readonly CallObserver[] | undefined;
}

/** The request handler of a server: its services, the call pipeline, every transport. */
export function buildRequestHandler(o: HandlerOptions): AegisRequestHandler {
  return createRequestHandler({
    ...assembleServices(o.governance, o.health, o.agents),
    pipeline: new CallPipeline({ keys: o.keys, logger: o.logger, observers: o.observers }),
    requestIds: createRequestIds(),
    cors: o.cors,
    maxBodyBytes: o.maxBodyBytes,
  });
}
