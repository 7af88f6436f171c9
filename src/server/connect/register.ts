// The services on Connect-Node (gRPC, gRPC-Web, Connect): one interceptor runs the call pipeline
// for every RPC, and each implementation method gets the Call the pipeline made.
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import type { Call, CallPipeline, RequestRecord } from "../call.js";
import { toConnectError } from "../errors.js";
import { rpcProtocolOf } from "../private/rpc-reply.js";
import type { ServedMethod, ServedService } from "../services/service-impl.js";

/** The request's log record, put there by the request handler. */
export const recordKey = createContextKey<RequestRecord | undefined>(undefined, {
  description: "aegis request record",
});
const callKey = createContextKey<Call | undefined>(undefined, { description: "aegis call" });

function isDeadline(reason: unknown): boolean {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
}

/** The call pipeline as Connect's one interceptor. */
export function pipelineInterceptor(
  pipeline: CallPipeline,
  methods: ReadonlyMap<string, ServedMethod>,
): Interceptor {
  return (next) => async (req) => {
    const record = req.contextValues.get(recordKey) ?? pipeline.record("");
    const served = methods.get(`/${req.service.typeName}/${req.method.name}`);
    try {
      if (served === undefined)
        throw new Error(`no access level for ${req.service.typeName}/${req.method.name}`);
      const protocol = rpcProtocolOf(req.header.get("content-type") ?? undefined, "1") ?? "connect";
      const call = pipeline.begin(
        record,
        protocol,
        served.rpc,
        served.access,
        (n) => req.header.get(n) ?? undefined,
        req.signal,
      );
      req.contextValues.set(callKey, call);
      const res = await next(req);
      pipeline.end(record, "ok");
      return res;
    } catch (err) {
      // The client reset or cancelled (Connect aborts the call's signal with the reason; a
      // deadline is the server's own timer, not the client leaving).
      const gone = req.signal.aborted && !isDeadline(req.signal.reason);
      const e = pipeline.failure(record, err, gone);
      pipeline.end(record, e.code);
      throw gone ? ConnectError.from(err) : toConnectError(e);
    }
  };
}

function callOf(ctx: HandlerContext): Call {
  const call = ctx.values.get(callKey);
  if (call === undefined) throw new Error("no call: the pipeline interceptor did not run");
  return call;
}

/** Registers each service with its implementation methods adapted to Connect's signature. */
export function registerServices(router: ConnectRouter, services: readonly ServedService[]): void {
  for (const s of services) {
    const adapted: Record<string, unknown> = {};
    for (const [name, impl] of Object.entries(s.impl)) {
      adapted[name] = (input: unknown, ctx: HandlerContext) =>
        (impl as (input: unknown, call: Call) => unknown)(input, callOf(ctx));
    }
    router.service(s.desc, adapted as never);
  }
}
