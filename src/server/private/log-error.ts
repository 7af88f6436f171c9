// What the transport logs about an error, and which errors are only a client going away.
//
// A client that resets its connection or cancels a stream mid-request is routine (and a cheap way
// to make a server write lines): it is logged at debug, without a stack. Everything else that is
// not an AegisError is a bug and keeps its ERROR line with the stack. A thrown non-Error (Connect
// rejects with plain objects in places) is described, never printed as "[object Object]".
import { inspect } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";

const MAX_DESCRIPTION = 500;

export interface ErrorInfo {
  readonly message: string;
  readonly type?: string | undefined;
  readonly code?: string | undefined;
  readonly stack?: string | undefined;
}

/** A readable one-line text for any thrown value. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message || value.name;
  let text: string | undefined;
  if (value !== null && typeof value === "object") {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined && json !== "{}") text = json;
    } catch {
      // cyclic or a BigInt: inspect below
    }
  }
  text ??= inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION)}…` : text;
}

/** For an ERROR line: message, class, Node error code and stack of an Error; a description otherwise. */
export function errorInfo(err: unknown): ErrorInfo {
  if (!(err instanceof Error)) return { message: describeValue(err), type: typeof err };
  const code = (err as NodeJS.ErrnoException).code;
  return {
    message: err.message || err.name,
    type: err.name,
    code: typeof code === "string" ? code : undefined,
    stack: err.stack,
  };
}

// Node's words for a peer that went away (socket or HTTP/2 stream), anywhere in the cause chain.
const GONE_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
]);
// Connect's codes for a call the client ended: a cancel or reset (canceled), a stream destroyed
// under a handler (aborted).
const GONE_CONNECT = new Set([Code.Canceled, Code.Aborted]);

/** True when `err` says the client reset, cancelled or closed (not a server fault). */
export function isClientAbort(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof ConnectError && GONE_CONNECT.has(e.code)) return true;
    if (typeof e === "object") {
      const code = (e as { code?: unknown }).code;
      if (typeof code === "string" && GONE_CODES.has(code)) return true;
      e = (e as { cause?: unknown }).cause;
    } else return false;
  }
  return false;
}
