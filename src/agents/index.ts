// The agent registry (the original server's /api/v1/agents) and the kill switch, shared by every
// replica through the database.
export { AGENT_MIGRATIONS } from "./migrations.js";
export {
  type AgentRecord,
  type AgentRegistration,
  AgentRegistry,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  SUSPENSION_POLL_MS,
  type Suspension,
} from "./registry.js";
export { checkAgentId, checkRegistration, MAX_AGENT_FIELD_LENGTH, MAX_METADATA_BYTES } from "./validate.js";
