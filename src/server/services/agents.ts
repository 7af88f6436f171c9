// aegis.v1.AgentService (the original server's /api/v1/agents) and aegis.v1.GuardrailService.
// A key bound to an agent_id pattern may register, heartbeat, read and remove only the ids its
// pattern allows; suspending and resuming is for admins.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AgentService } from "../../../gen/aegis/v1/agent_service_pb.js";
import { GuardrailService } from "../../../gen/aegis/v1/guardrail_service_pb.js";
import {
  type AgentRecord,
  type AgentRegistry,
  checkAgentId,
  checkRegistration,
  type Suspension,
} from "../../agents/index.js";
import { AegisError } from "../../errors.js";
import { effectiveAgentId } from "../../identity/index.js";
import { stringProblem } from "../../storage/index.js";
import type { Call } from "../call.js";
import { type ServedService, serve } from "./service-impl.js";

const NOT_FOUND = "Agent not found";

function suspensionToProto(s: Suspension | undefined) {
  return s === undefined
    ? undefined
    : { reason: s.reason, suspendedBy: s.suspendedBy, suspendedAt: timestampFromDate(s.suspendedAt) };
}

function agentToProto(registry: AgentRegistry, a: AgentRecord, now = Date.now()) {
  return {
    agentId: a.agentId,
    name: a.name,
    framework: a.framework,
    version: a.version,
    metadata: a.metadata as never,
    registeredAt: a.registeredAt.getTime() / 1000,
    lastHeartbeat: a.lastHeartbeat.getTime() / 1000,
    status: registry.isAlive(a, now) ? "alive" : "stale",
    uptimeSeconds: Math.max(0, (now - a.registeredAt.getTime()) / 1000),
    suspension: suspensionToProto(registry.suspensionOf(a.agentId)),
  };
}

/** The id a request names, checked and allowed for the caller's key. */
function allowedId(call: Call, agentId: string): string {
  const id = checkAgentId(agentId);
  effectiveAgentId(call.principal, id);
  return id;
}

/** Without a database there is no registry: every RPC says so. */
export function agentService(registry: AgentRegistry | undefined): ServedService {
  if (registry === undefined) {
    const none = () => {
      throw new AegisError(
        "unimplemented",
        "the agent registry needs a database (AEGIS_AUDIT_DB or DATABASE_URL)",
      );
    };
    return serve(AgentService, {
      registerAgent: none,
      listAgents: none,
      getAgent: none,
      heartbeat: none,
      removeAgent: none,
      suspendAgent: none,
      resumeAgent: none,
    });
  }
  return serve(AgentService, {
    async registerAgent(req, call) {
      // A key bound to one plain id may leave agent_id out: it registers that id.
      const requested = req.agentId === "" ? undefined : req.agentId;
      const agentId = checkAgentId(effectiveAgentId(call.principal, requested));
      const registration = {
        agentId,
        name: req.name === "" ? undefined : req.name,
        framework: req.framework === "" ? undefined : req.framework,
        version: req.version === "" ? undefined : req.version,
        metadata: req.metadata,
      };
      checkRegistration(registration);
      const a = await registry.register(registration, call.principal.name);
      return { agent: agentToProto(registry, a) };
    },
    async listAgents(req) {
      const { agents, total, alive } = await registry.list(req.alive);
      const now = Date.now();
      return { agents: agents.map((a) => agentToProto(registry, a, now)), total, alive };
    },
    async getAgent(req, call) {
      const a = await registry.get(allowedId(call, req.agentId));
      if (a === undefined) throw new AegisError("not_found", NOT_FOUND);
      return { agent: agentToProto(registry, a) };
    },
    async heartbeat(req, call) {
      const id = allowedId(call, req.agentId);
      if (!(await registry.heartbeat(id))) throw new AegisError("not_found", NOT_FOUND);
      return { status: "ok", agentId: id };
    },
    async removeAgent(req, call) {
      const id = allowedId(call, req.agentId);
      if (!(await registry.remove(id))) throw new AegisError("not_found", NOT_FOUND);
      return { status: "removed", agentId: id };
    },
    async suspendAgent(req, call) {
      const id = checkAgentId(req.agentId);
      const reason = req.reason.trim();
      if (reason === "")
        throw new AegisError("invalid_argument", "reason is required: it is shown with every blocked action");
      if (reason.length > 1000)
        throw new AegisError("invalid_argument", "reason is longer than 1000 characters");
      const problem = stringProblem(reason);
      if (problem !== undefined) throw new AegisError("invalid_argument", `reason ${problem}`);
      const s = await registry.suspend(id, reason, call.principal.name);
      return { status: "suspended", agentId: id, suspension: suspensionToProto(s) };
    },
    async resumeAgent(req) {
      const id = checkAgentId(req.agentId);
      if (!(await registry.resume(id)))
        throw new AegisError("not_found", `Agent ${JSON.stringify(id)} is not suspended`);
      return { status: "resumed", agentId: id };
    },
  });
}

export function guardrailService(): ServedService {
  return serve(GuardrailService, {
    listGuardrails: () => ({ enabled: false, guardrails: [] }),
    checkGuardrails() {
      throw new AegisError("unimplemented", "No guardrails configured");
    },
  });
}
