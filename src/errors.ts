// One error type that every layer may throw; each transport maps `code` to its own status
// (REST: HTTP status + {"error": message}; gRPC/Connect: the Connect code of the same name).

export type ErrorCode =
  | "invalid_argument" // 400
  | "unauthenticated" // 401
  | "permission_denied" // 403
  | "not_found" // 404
  | "failed_precondition" // 409: the current state forbids it (say a decided approval)
  | "resource_exhausted" // 413: a body over the limit
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
    /** REST only: a status other than the code's (422 for a reused idempotency key). */
    readonly httpStatus?: number,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
