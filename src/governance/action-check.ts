// The one validation every action passes before any rule is tried, whatever transport brought it
// (REST JSON, Connect JSON, protobuf binary). It refuses what the policy could misjudge or the
// audit trail could not store exactly as the policy saw it:
// - numbers that are not finite: binary protobuf `Struct`s can carry NaN and ±Infinity, which
//   compare false with everything (a NaN amount would slip past `param_gt`) and which JSON, and
//   so the audit row, cannot hold;
// - NUL characters and unpaired UTF-16 surrogates in any string or key: PostgreSQL refuses the
//   first in text and jsonb, and the second would be stored as U+FFFD, a different value;
// - values too large or too deep to store (the documented per-field limits);
// - a chain_depth that is not a non-negative 32-bit integer (the audit column's range).
// Errors are `invalid_argument` naming the item and the field, e.g. `actions[2]: params.amount`.
// What PostgreSQL can store is storage's knowledge (storage/storable.ts).
import { AegisError } from "../errors.js";
import { stringProblem } from "../storage/index.js";
import { MAX_JSON_DEPTH } from "./json-depth.js";
import type { ActionRequest } from "./types.js";

/** Per-field bounds on what an action may carry (DESIGN §6: AEGIS_MAX_PARAMS_BYTES, ...). */
export interface ActionLimits {
  /** params as JSON text, in UTF-8 bytes. */
  readonly maxParamsBytes: number;
  /** description, in UTF-8 bytes. */
  readonly maxDescriptionBytes: number;
}

export const DEFAULT_ACTION_LIMITS: ActionLimits = {
  maxParamsBytes: 256 * 1024,
  maxDescriptionBytes: 16 * 1024,
};

/** action_type, agent ids, session_id and chain_id: identifiers, in characters. */
export const MAX_ID_LENGTH = 256;
/** target (a path, a URL, a table name), in characters. */
export const MAX_TARGET_LENGTH = 4096;
export const MAX_CHAIN_DEPTH = 2 ** 31 - 1;

const ID_FIELDS = [
  ["sessionId", "session_id"],
  ["agentId", "agent_id"],
  ["parentAgentId", "parent_agent_id"],
  ["chainId", "chain_id"],
] as const;

function refuse(at: string, field: string, message: string): never {
  throw new AegisError("invalid_argument", `${at}${field} ${message}`);
}

function checkText(at: string, field: string, value: string | undefined, maxLength: number): void {
  if (value === undefined) return;
  if (value.length > maxLength)
    refuse(at, field, `is ${value.length} characters long; at most ${maxLength} are allowed`);
  const problem = stringProblem(value);
  if (problem !== undefined) refuse(at, field, problem);
}

/** A JSON path segment: `.name` for plain keys, `["odd key"]` otherwise. */
function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Walks params once: depth, finiteness, storable strings, and a lower bound on the JSON size
 * (each string counts its length, each scalar at least one byte). Returns that bound.
 */
function walk(value: unknown, path: string, depth: number, at: string): number {
  switch (typeof value) {
    case "string": {
      const problem = stringProblem(value);
      if (problem !== undefined) refuse(at, path, problem);
      return value.length + 2;
    }
    case "number":
      if (!Number.isFinite(value)) {
        refuse(at, path, `is ${String(value)}: numbers must be finite (NaN and Infinity are not JSON)`);
      }
      return 8;
    case "boolean":
      return 5;
    case "object": {
      if (value === null) return 4;
      if (depth >= MAX_JSON_DEPTH) refuse(at, "params", `are nested more than ${MAX_JSON_DEPTH} levels deep`);
      let size = 2;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) size += walk(value[i], childPath(path, i), depth + 1, at) + 1;
        return size;
      }
      for (const key of Object.keys(value)) {
        const p = childPath(path, key);
        const problem = stringProblem(key);
        if (problem !== undefined) refuse(at, p, `has a key that ${problem}`);
        size += key.length + 3 + walk((value as Record<string, unknown>)[key], p, depth + 1, at);
      }
      return size;
    }
    default:
      // undefined, functions, symbols, bigint: only a programmatic caller can send these.
      return refuse(at, path, `is ${typeof value}, which is not a JSON value`);
  }
}

/**
 * JSON text is at most 6 times the walk's bound (\u00XX escapes; 3 UTF-8 bytes per BMP
 * character), so the exact size is only computed when it could be over the limit.
 */
function checkParamsSize(at: string, params: unknown, bound: number, max: number): void {
  if (bound * 6 <= max) return;
  const bytes = Buffer.byteLength(JSON.stringify(params));
  if (bytes > max) {
    refuse(at, "params", `are ${bytes} bytes as JSON; at most ${max} are allowed (AEGIS_MAX_PARAMS_BYTES)`);
  }
}

/** Error texts from executors and approval handlers, made storable: never refused, never huge. */
export function storableText(s: string, maxLength = 16 * 1024): string {
  const clean = (s.includes("\0") ? s.replaceAll("\0", "\uFFFD") : s).toWellFormed();
  return clean.length <= maxLength
    ? clean
    : `${clean.slice(0, maxLength)}… (${clean.length - maxLength} more characters)`;
}

/** Throws `invalid_argument` naming the first problem; `index` is the item of a batch. */
export function checkAction(action: ActionRequest, index: number | undefined, limits: ActionLimits): void {
  const at = index === undefined ? "" : `actions[${index}]: `;
  if (typeof action.actionType !== "string" || action.actionType === "") {
    refuse(at, "action_type", "is required and must be a non-empty string");
  }
  checkText(at, "action_type", action.actionType, MAX_ID_LENGTH);
  checkText(at, "target", action.target, MAX_TARGET_LENGTH);
  for (const [key, field] of ID_FIELDS) checkText(at, field, action[key], MAX_ID_LENGTH);
  const description = action.description;
  if (description !== undefined) {
    checkText(at, "description", description, Number.MAX_SAFE_INTEGER);
    const bytes = Buffer.byteLength(description);
    if (bytes > limits.maxDescriptionBytes) {
      refuse(
        at,
        "description",
        `is ${bytes} bytes; at most ${limits.maxDescriptionBytes} are allowed (AEGIS_MAX_DESCRIPTION_BYTES)`,
      );
    }
  }
  const depth = action.chainDepth;
  if (depth !== undefined && !(Number.isInteger(depth) && depth >= 0 && depth <= MAX_CHAIN_DEPTH)) {
    refuse(at, "chain_depth", `must be an integer from 0 to ${MAX_CHAIN_DEPTH}, got ${String(depth)}`);
  }
  const params = action.params;
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    refuse(at, "params", "must be a JSON object");
  }
  checkParamsSize(at, params, walk(params, "params", 1, at), limits.maxParamsBytes);
}
