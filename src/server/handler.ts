// The Node request handler behind the one port: the request's id and log record, CORS, then one of
// three entry points, each going through the same call pipeline (call.ts):
//   REST routes (from the proto annotations)          rest/
//   everything else: Connect-Node (gRPC, gRPC-Web, Connect)   connect/
//   and, ahead of Node's compat layer, unary gRPC on the raw HTTP/2 stream   grpc-unary/
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { type ConnectRouter, createContextValues } from "@connectrpc/connect";
import type { CallPipeline, RequestRecord } from "./call.js";
import { createConnectAdapter } from "./connect/adapter.js";
import { pipelineInterceptor, recordKey, registerServices } from "./connect/register.js";
import type { Cors } from "./cors.js";
import { httpStatusOf } from "./errors.js";
import { createGrpcUnaryHandler, type GrpcUnaryHandler, takePreread } from "./grpc-unary/unary-handler.js";
import type { NodeHandler, NodeRequest, NodeResponse } from "./node-types.js";
import { readBody } from "./private/body.js";
import type { RequestIds } from "./request-id.js";
import { encodeError } from "./rest/codec.js";
import type { RestHandler } from "./rest/handlers.js";
import { normalisePath, type RestRoute, RestRouter } from "./rest/router.js";
import type { ServedMethod, ServedService } from "./services/service-impl.js";

export type { NodeHandler, NodeRequest, NodeResponse } from "./node-types.js";

export interface HandlerDeps {
  readonly services: readonly ServedService[];
  readonly methods: ReadonlyMap<string, ServedMethod>;
  readonly rest: {
    readonly routes: readonly RestRoute[];
    readonly handlerFor: (route: RestRoute) => RestHandler;
  };
  readonly pipeline: CallPipeline;
  readonly requestIds: RequestIds;
  readonly cors: Cors;
  readonly maxBodyBytes: number;
}

const RECORD = Symbol("aegis.requestRecord");
type Tagged = NodeRequest & { [RECORD]?: RequestRecord };

const EMPTY = Buffer.alloc(0);
const JSON_TYPE = "application/json";

export interface AegisRequestHandler {
  readonly handler: NodeHandler;
  /** For the listener's HTTP/2 `stream` event, ahead of Node's compat layer (grpc-unary/). */
  readonly stream: GrpcUnaryHandler;
  /** From now on HTTP/1.1 responses say `Connection: close`. */
  beginShutdown(): void;
}

export function createRequestHandler(deps: HandlerDeps): AegisRequestHandler {
  const { pipeline, requestIds, cors, maxBodyBytes, methods } = deps;
  const router = new RestRouter<RestHandler>(deps.rest.routes, deps.rest.handlerFor);

  const notFound: NodeHandler = (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    send(res, 404, encodeError(`Not found: ${req.method} ${path}`), undefined);
  };

  const connect = createConnectAdapter({
    routes(r: ConnectRouter) {
      registerServices(r, deps.services);
    },
    interceptors: [pipelineInterceptor(pipeline, methods)],
    readMaxBytes: maxBodyBytes,
    fallback: notFound as never,
    contextValues: (req) => createContextValues().set(recordKey, (req as Tagged)[RECORD]),
    onHandlerError: (err, rpc) => pipeline.report(err, rpc, false),
    onClientAbort: (err, rpc) => pipeline.report(err, rpc, true),
  });

  const grpcUnary = createGrpcUnaryHandler({ methods, pipeline, requestIds, maxBodyBytes });
  const stream: GrpcUnaryHandler = (s, headers, compat) =>
    // CORS headers are the compat path's job; gRPC clients send no Origin, browsers use gRPC-Web.
    cors.enabled && headers.origin !== undefined ? false : grpcUnary(s, headers, compat);

  let shuttingDown = false;

  async function serveRest(
    req: NodeRequest,
    res: NodeResponse,
    record: RequestRecord,
    match: {
      route: RestRoute;
      handler: RestHandler;
      head: boolean;
      params: Readonly<Record<string, string>>;
    },
    query: string,
  ): Promise<void> {
    const { route, handler, head, params } = match;
    try {
      const served = methods.get(`/${route.method.parent.typeName}/${route.method.name}`);
      if (served === undefined) throw new Error(`no method for ${route.method.name}`);
      const call = pipeline.begin(
        record,
        "rest",
        served.rpc,
        served.access,
        (name) => {
          const v = req.headers[name];
          return Array.isArray(v) ? v[0] : v;
        },
        undefined,
      );
      const body = route.body === "" ? EMPTY : await readBody(req, maxBodyBytes);
      const pending = handler({ body, query, params, call });
      // Most handlers are synchronous: skip the extra microtask of awaiting a plain value.
      const reply = pending instanceof Promise ? await pending : pending;
      pipeline.end(record, "ok");
      send(
        res,
        reply.status,
        head ? undefined : reply.body,
        record.requestId,
        reply.headers,
        Buffer.byteLength(reply.body),
      );
    } catch (err) {
      sendError(res, record, err, head);
    }
  }

  function sendError(res: NodeResponse, record: RequestRecord, err: unknown, head = false): void {
    const e = pipeline.failure(record, err, responseGone(res));
    pipeline.end(record, e.code);
    if (res.headersSent || responseGone(res)) {
      res.destroy?.();
      return;
    }
    const body = encodeError(e.message);
    const extra =
      e.retryAfterSeconds !== undefined ? { "retry-after": String(e.retryAfterSeconds) } : undefined;
    send(res, httpStatusOf(e), head ? undefined : body, record.requestId, extra, Buffer.byteLength(body));
  }

  const handler: NodeHandler = (req, res) => {
    const record = pipeline.record(requestIds(req.headers["x-request-id"]));
    (req as Tagged)[RECORD] = record;
    if (shuttingDown && req.httpVersionMajor === 1) res.setHeader("connection", "close");

    if (pipeline.logsRequests) {
      res.once("finish", () => {
        pipeline.logRequest(
          record,
          req.method,
          (req.url ?? "").split("?", 1)[0] ?? "",
          res.statusCode,
          req.httpVersionMajor === 2 ? "h2" : "http/1.1",
        );
      });
    }

    try {
      if (cors.enabled) {
        const origin = req.headers.origin;
        if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
          const h = cors.preflightHeaders(origin);
          if (h) {
            res.writeHead(204, { ...h, "x-request-id": record.requestId });
            res.end();
            return;
          }
        }
        const h = cors.headersFor(origin);
        if (h) for (const [k, v] of Object.entries(h)) res.setHeader(k, v as string);
      }

      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = normalisePath(q < 0 ? url : url.slice(0, q));
      const m = router.match(req.method ?? "GET", path);
      if (m === undefined) {
        res.setHeader("x-request-id", record.requestId);
        connect(
          req as never,
          res as never,
          req.httpVersionMajor === 2 ? takePreread(req as Http2ServerRequest) : undefined,
        );
        return;
      }
      if (m.kind === "method_not_allowed") {
        send(res, 405, encodeError(`Method ${req.method} not allowed on ${path}`), record.requestId, {
          allow: m.allow,
        });
        return;
      }
      void serveRest(req, res, record, m, q < 0 ? "" : url.slice(q + 1));
    } catch (err) {
      sendError(res, record, err);
    }
  };

  return {
    handler,
    stream,
    beginShutdown() {
      shuttingDown = true;
    },
  };
}

/** REST replies pass every header to writeHead at once (Node's fast path: no prior setHeader). */
function send(
  res: NodeResponse,
  status: number,
  body: string | undefined,
  requestId: string | undefined,
  extra?: OutgoingHttpHeaders,
  length?: number,
): void {
  const headers: OutgoingHttpHeaders = {
    "content-type": JSON_TYPE,
    "content-length": length ?? (body === undefined ? 0 : Buffer.byteLength(body)),
  };
  if (requestId !== undefined) headers["x-request-id"] = requestId;
  if (extra) Object.assign(headers, extra);
  (res as ServerResponse).writeHead(status, headers);
  if (body === undefined) res.end();
  else (res as ServerResponse).end(body);
}

/** The connection or stream the answer would go to is gone. */
function responseGone(res: NodeResponse): boolean {
  if ("stream" in res) return res.stream.destroyed || res.stream.closed;
  return res.destroyed || res.socket?.destroyed === true;
}
