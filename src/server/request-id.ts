// The one source of request ids for every protocol: the client's `x-request-id` when it is a
// safe token (so a caller can correlate), else a fresh id unique in this process. The id is in
// the response header, the request's log line and the executor's context.
const SAFE_ID = /^[\w.:-]{1,128}$/;

export type RequestIds = (incoming: string | string[] | undefined) => string;

export function createRequestIds(): RequestIds {
  const prefix = `${process.pid.toString(36)}-${Date.now().toString(36)}-`;
  let counter = 0;
  return (incoming) =>
    typeof incoming === "string" && SAFE_ID.test(incoming) ? incoming : prefix + (++counter).toString(36);
}
