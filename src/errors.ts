// One error type that every layer may throw; each transport maps `code` to its own status
// (REST: HTTP status + {"error": message}; gRPC/Connect: the Connect code of the same name).

export type ErrorCode =
  | "invalid_argument" // 400
  | "unauthenticated" // 401
  | "permission_denied" // 403
  | "not_found" // 404
  | "resource_exhausted" // 413 for bodies; 503 + Retry-After for a full queue
  | "unavailable" // 503
  | "unimplemented" // 501
  | "internal"; // 500

export class AegisError extends Error {
  override readonly name = "AegisError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds a client should wait before retrying (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
    /** The underlying error, for logs; never sent to clients. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
