// Maps database and network errors to AegisError codes, for every concern that uses the database:
// `unavailable` when it cannot be reached (the audit writer trips its breaker on it),
// `invalid_argument` when it refuses the data itself, `internal` otherwise.
import { AegisError } from "../errors.js";

/** Seconds a client is told to wait when the database is down or a write queue is full. */
export const RETRY_AFTER_SECONDS = 1;

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

const CONNECTION_MESSAGES = [
  "connection terminated",
  "connection error",
  "timeout exceeded when trying to connect",
  "query read timeout",
  "cannot use a pool after calling end",
  "client was closed",
  "not queryable",
  "pglite is closed",
  "timed out",
];

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True when the error means "the database is not reachable right now" rather than "bad data". */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof AegisError) return err.code === "unavailable";
  const code = sqlState(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    // SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator
    // intervention (admin shutdown, pg_terminate_backend, cannot connect now), 58 system error.
    if (/^(08|53|57|58)[0-9A-Z]{3}$/.test(code)) return true;
  }
  const msg = messageOf(err).toLowerCase();
  return CONNECTION_MESSAGES.some((m) => msg.includes(m));
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint): the row itself is at fault. */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

/**
 * `subject` names whose data it is in messages ("audit" -> "audit database unavailable: ...",
 * "audit record rejected: ..."); `what` names the operation for anything else.
 */
export function toDatabaseError(err: unknown, what: string, subject: string): AegisError {
  if (err instanceof AegisError) return err;
  const msg = messageOf(err);
  if (isConnectionError(err)) {
    return new AegisError("unavailable", `${subject} database unavailable: ${msg}`, RETRY_AFTER_SECONDS, err);
  }
  if (isDataError(err))
    return new AegisError("invalid_argument", `${subject} record rejected: ${msg}`, undefined, err);
  return new AegisError("internal", `${what} failed: ${msg}`, undefined, err);
}
