// What an agent registration may carry: ids and names are identifiers (at most 256 characters,
// no control characters), metadata is a JSON object of at most 16 KiB.
import { AegisError } from "../errors.js";
import { unstorableJson } from "../storage/index.js";
import type { AgentRegistration } from "./registry.js";

export const MAX_AGENT_FIELD_LENGTH = 256;
export const MAX_METADATA_BYTES = 16 * 1024;

// C0 and C1 controls, DEL, and the bidi overrides that could disguise an id in a console.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function bad(message: string): AegisError {
  return new AegisError("invalid_argument", message);
}

/** Throws `invalid_argument` for an id that is empty, too long, or holds control characters. */
export function checkAgentId(agentId: string | undefined): string {
  if (agentId === undefined || agentId === "") throw bad("agent_id is required");
  checkField("agent_id", agentId);
  return agentId;
}

function checkField(name: string, value: string): void {
  if (value.length > MAX_AGENT_FIELD_LENGTH) {
    throw bad(`${name} is ${value.length} characters long; at most ${MAX_AGENT_FIELD_LENGTH} are allowed`);
  }
  if (CONTROL.test(value) || !value.isWellFormed()) throw bad(`${name} must not contain control characters`);
}

export function checkRegistration(r: AgentRegistration): void {
  checkAgentId(r.agentId);
  for (const [name, value] of [
    ["name", r.name],
    ["framework", r.framework],
    ["version", r.version],
  ] as const) {
    if (value !== undefined) checkField(name, value);
  }
  if (r.metadata !== undefined) {
    const text = JSON.stringify(r.metadata);
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_METADATA_BYTES)
      throw bad(`metadata is ${bytes} bytes as JSON; at most ${MAX_METADATA_BYTES} are allowed`);
    const problem = unstorableJson(r.metadata);
    if (problem !== undefined) throw bad(`metadata ${problem}`);
  }
}
