// The abort signal of a call on the fast path, as Connect's HandlerContext would carry it:
// aborted when the stream closes (a client reset or cancel before the answer, with Connect's
// reason for the RST_STREAM code; or the end of the call) or when the grpc-timeout deadline
// passes (DEADLINE_EXCEEDED "the operation timed out"; the handler is not raced, its answer is
// sent, as Connect does).
import type { ServerHttp2Stream } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

// Connect-Node's reasons for a stream closed by RST_STREAM, indexed by the HTTP/2 error code.
// NO_ERROR, STREAM_CLOSED and unknown codes abort without a reason, as there.
const RESET_REASONS: ReadonlyArray<readonly [string, Code] | undefined> = [
  undefined,
  ["PROTOCOL_ERROR", Code.Internal],
  ["INTERNAL_ERROR", Code.Internal],
  ["FLOW_CONTROL_ERROR", Code.Internal],
  ["SETTINGS_TIMEOUT", Code.Internal],
  undefined,
  ["FRAME_SIZE_ERROR", Code.Internal],
  ["REFUSED_STREAM", Code.Unavailable],
  ["CANCEL", Code.Canceled],
  ["COMPRESSION_ERROR", Code.Internal],
  ["CONNECT_ERROR", Code.Internal],
  ["ENHANCE_YOUR_CALM", Code.ResourceExhausted],
  ["INADEQUATE_SECURITY", Code.PermissionDenied],
  ["HTTP_1_1_REQUIRED", Code.PermissionDenied],
];

function resetReason(rstCode: number): ConnectError | undefined {
  const r = RESET_REASONS[rstCode];
  return (
    r && new ConnectError(`http/2 stream closed with error code ${r[0]} (0x${rstCode.toString(16)})`, r[1])
  );
}

/** `arrived`: performance.now() when the request came (the deadline counts from then). */
export function callSignal(
  stream: ServerHttp2Stream,
  timeoutMs: number | undefined,
  arrived: number,
): AbortSignal {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onClose = () => {
    clearTimeout(timer);
    if (!ac.signal.aborted) ac.abort(resetReason(stream.rstCode));
  };
  if (stream.closed || stream.destroyed) {
    onClose();
    return ac.signal;
  }
  stream.once("close", onClose);
  if (timeoutMs !== undefined) {
    const deadline = () => ac.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    const left = timeoutMs - (performance.now() - arrived);
    if (timeoutMs <= 0 || left <= 0) deadline();
    else timer = setTimeout(deadline, left);
  }
  return ac.signal;
}
