// Who is asking: a principal is a named key with a role and, for agent keys, the agent ids it may
// act as. Roles nest (admin > approver > agent): a key passes every check its role or a lower one
// needs.
import type { Glob } from "../policy/index.js";

export type Role = "agent" | "approver" | "admin";

export const ROLES: readonly Role[] = ["agent", "approver", "admin"];

/** What an RPC needs (the `(aegis.v1.access)` option). */
export type Access = "open" | "agent" | "approver" | "admin";

const RANK: Record<Role | Access, number> = { open: 0, agent: 1, approver: 2, admin: 3 };

/** Whether a principal of `role` may call something that needs `access`. */
export function allows(role: Role, access: Access): boolean {
  return RANK[role] >= RANK[access];
}

export interface Principal {
  /** Unique; shown in logs, audit rows and approvals. */
  readonly name: string;
  readonly role: Role;
  /** The agent ids this key may act as; undefined: any (an unbound key). */
  readonly agentBinding?: AgentBinding | undefined;
}

export interface AgentBinding {
  /** The glob as written in the keys file. */
  readonly pattern: string;
  readonly glob: Glob;
  /** The one id a plain pattern names: a request without agent_id acts as it. */
  readonly plain: string | undefined;
}

/** The principal of a server with no keys at all (development mode: everything is open). */
export const ANONYMOUS: Principal = Object.freeze({ name: "anonymous", role: "admin" });
