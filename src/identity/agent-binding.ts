// Agents cannot impersonate: a key bound to an agent_id pattern acts only as the ids it allows.
import { AegisError } from "../errors.js";
import type { Principal } from "./principal.js";

/**
 * The agent id a request of `principal` acts as. An unbound key acts as whatever it sends
 * (possibly none). A bound key without agent_id acts as its plain id; a bound key whose pattern
 * is a glob must name one; an id the pattern does not match is `permission_denied`.
 */
export function effectiveAgentId(
  principal: Principal,
  requested: string | undefined,
  at = "",
): string | undefined {
  const binding = principal.agentBinding;
  if (binding === undefined) return requested;
  if (requested === undefined) {
    if (binding.plain !== undefined) return binding.plain;
    throw new AegisError(
      "permission_denied",
      `${at}the key of ${principal.name} is bound to agent ids matching ${JSON.stringify(binding.pattern)}: send agent_id`,
    );
  }
  if (!binding.glob.test(requested)) {
    throw new AegisError(
      "permission_denied",
      `${at}agent_id ${JSON.stringify(requested)} is not allowed for the key of ${principal.name} (bound to ${JSON.stringify(binding.pattern)})`,
    );
  }
  return requested;
}
