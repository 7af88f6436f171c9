// One mapping from AegisError codes to REST statuses and Connect codes, so every protocol answers
// the same failure the same way.
import { Code, ConnectError } from "@connectrpc/connect";
import { AegisError, type ErrorCode } from "../errors.js";
import { invert } from "./private/invert.js";

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  failed_precondition: 409,
  resource_exhausted: 413,
  unavailable: 503,
  unimplemented: 501,
  internal: 500,
};

const CONNECT_CODE: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
};

const FROM_CONNECT = invert(CONNECT_CODE);

export const INTERNAL_MESSAGE = "Internal server error";

/** The REST status for an AegisError. */
export function httpStatusOf(err: AegisError): number {
  return err.httpStatus ?? HTTP_STATUS[err.code];
}

export function toConnectError(err: AegisError): ConnectError {
  // A full audit queue or a database that is down: tell gRPC/Connect clients when to retry too.
  const metadata =
    err.retryAfterSeconds !== undefined
      ? new Headers({ "retry-after": String(err.retryAfterSeconds) })
      : undefined;
  return new ConnectError(err.message, CONNECT_CODE[err.code], metadata);
}

/** Known errors keep their code and message; anything else is `undefined` (an unexpected bug). */
export function asAegisError(err: unknown): AegisError | undefined {
  if (err instanceof AegisError) return err;
  if (err instanceof ConnectError) {
    const code = FROM_CONNECT[err.code];
    return code ? new AegisError(code, err.rawMessage) : undefined;
  }
  return undefined;
}
