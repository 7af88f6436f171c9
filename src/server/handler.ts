// The Node request handler behind the one port: request ids, per-request logging, CORS, the REST
// routes (from the proto annotations) and, for everything else, Connect-Node (gRPC, gRPC-Web,
// Connect). Auth and limits are enforced on both branches by the same code: the REST branch calls
// the Authenticator directly, the Connect branch through an interceptor (Connect interceptors do
// not run for REST), and the batch limit lives in the governance service both branches call.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import { GovernanceService as GovernanceServiceDesc } from "../../gen/aegis/v1/governance_service_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import type { GovernanceService } from "../governance/index.js";
import { type Authenticator, accessOf, type HeaderGetter } from "./auth.js";
import { registerGovernance } from "./connect-service.js";
import type { Cors } from "./cors.js";
import { asAegisError, httpStatusOf, INTERNAL_MESSAGE, toConnectError } from "./errors.js";
import { createGrpcFastPath, type GrpcFastPath, takePreread } from "./grpc-fast-path.js";
import { type HealthState, registerHealth } from "./health.js";
import type { Logger } from "./logger.js";
import { readBody } from "./private/body.js";
import { createConnectAdapter } from "./private/connect-adapter.js";
import { describeValue, errorInfo, isClientAbort } from "./private/log-error.js";
import { registerReflection } from "./reflection.js";
import { encodeError } from "./rest-codec.js";
import { type RestHandler, restHandlers } from "./rest-handlers.js";
import { normalisePath, RestRouter, routesOf } from "./rest-router.js";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;
export type NodeHandler = (req: NodeRequest, res: NodeResponse) => void;

export interface HandlerDeps {
  readonly governance: GovernanceService;
  readonly health: HealthState;
  readonly auth: Authenticator;
  readonly cors: Cors;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
}

export const requestIdKey = createContextKey<string>("", { description: "aegis request id" });
const REQUEST_ID = Symbol("aegis.requestId");
type Tagged = NodeRequest & { [REQUEST_ID]?: string };

const EMPTY = Buffer.alloc(0);
const JSON_TYPE = "application/json";
const SAFE_ID = /^[\w.:-]{1,128}$/;

export interface AegisRequestHandler {
  readonly handler: NodeHandler;
  /**
   * For the listener's HTTP/2 `stream` event, ahead of Node's compat layer: the unary gRPC fast
   * path for Evaluate and EvaluateBatch (grpc-fast-path.ts). False: not taken, use `handler`.
   */
  readonly stream: GrpcFastPath;
  readonly restPaths: readonly string[];
  /** From now on HTTP/1.1 responses say `Connection: close`. */
  beginShutdown(): void;
}

export function createRequestHandler(deps: HandlerDeps): AegisRequestHandler {
  const { governance, health, auth, cors, logger, maxBodyBytes } = deps;
  const router = new RestRouter<RestHandler>(
    routesOf(GovernanceServiceDesc),
    restHandlers(governance, health),
  );

  const guard: Interceptor = (next) => async (req) => {
    try {
      auth.check(accessOf(req.service.typeName, req.method.name), (n) => req.header.get(n) ?? undefined);
      return await next(req);
    } catch (err) {
      const known = asAegisError(err);
      if (known) throw toConnectError(known);
      // The client reset or cancelled the call (Connect aborts the call's signal then, with the
      // reason; a deadline is the server's timer, not the client leaving): nobody reads an answer.
      const signal = req.signal;
      if (signal.aborted && !isDeadline(signal.reason)) {
        logger.debug(
          { req_id: req.contextValues.get(requestIdKey), rpc: req.url, reason: describeValue(err) },
          "client went away",
        );
        throw ConnectError.from(err);
      }
      logger.error(
        { req_id: req.contextValues.get(requestIdKey), rpc: req.url, err: errorInfo(err) },
        "unexpected error",
      );
      throw new ConnectError(INTERNAL_MESSAGE, Code.Internal);
    }
  };

  const notFound: NodeHandler = (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    send(res, 404, encodeError(`Not found: ${req.method} ${path}`), undefined);
  };

  const connect = createConnectAdapter({
    routes(r: ConnectRouter) {
      registerGovernance(r, governance, health);
      registerHealth(r, health);
      registerReflection(r, [GovernanceServiceDesc, Health]);
    },
    interceptors: [guard],
    readMaxBytes: maxBodyBytes,
    fallback: notFound as never,
    contextValues: (req) => createContextValues().set(requestIdKey, (req as Tagged)[REQUEST_ID] ?? ""),
    onHandlerError: (err, rpc) => logger.error({ rpc, err: errorInfo(err) }, "rpc handler failed"),
    onClientAbort: (err, rpc) => logger.debug({ rpc, reason: describeValue(err) }, "client went away"),
  });

  const idPrefix = `${process.pid.toString(36)}-${Date.now().toString(36)}-`;
  let counter = 0;
  let shuttingDown = false;
  // Read once: the level is fixed for the life of the process, and this runs on every request.
  const logRequests = logger.isLevelEnabled("info");

  const requestIdOf = (headers: IncomingHttpHeaders): string => {
    const incoming = headers["x-request-id"];
    return typeof incoming === "string" && SAFE_ID.test(incoming)
      ? incoming
      : idPrefix + (++counter).toString(36);
  };

  const grpcFast = createGrpcFastPath({
    governance,
    auth,
    logger,
    maxBodyBytes,
    requestId: requestIdOf,
    // The same line as the compat path's below; gRPC answers are always HTTP 200 over h2.
    logRequest: logRequests
      ? (requestId, path, start) =>
          logger.info(
            {
              req_id: requestId,
              method: "POST",
              path,
              status: 200,
              proto: "h2",
              ms: Number(process.hrtime.bigint() - start) / 1e6,
            },
            "request",
          )
      : undefined,
  });
  const stream: GrpcFastPath = (s, headers, compat) =>
    // CORS headers are the compat path's job; gRPC clients send no Origin, browsers use gRPC-Web.
    cors.enabled && headers.origin !== undefined ? false : grpcFast(s, headers, compat);

  async function serveRest(
    req: NodeRequest,
    res: NodeResponse,
    route: { access: "public" | "api" | "admin"; body: string },
    handler: RestHandler,
    head: boolean,
    query: string,
    requestId: string,
  ): Promise<void> {
    try {
      const header: HeaderGetter = (name) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      auth.check(route.access, header);
      const body = route.body === "" ? EMPTY : await readBody(req, maxBodyBytes);
      const pending = handler({ body, query, header, requestId });
      // Most handlers are synchronous: skip the extra microtask of awaiting a plain value.
      const reply = pending instanceof Promise ? await pending : pending;
      send(
        res,
        reply.status,
        head ? undefined : reply.body,
        requestId,
        reply.headers,
        Buffer.byteLength(reply.body),
      );
    } catch (err) {
      sendError(res, err, requestId, head);
    }
  }

  function sendError(res: NodeResponse, err: unknown, requestId: string, head = false): void {
    const known = asAegisError(err);
    if (!known) {
      // A client that reset or closed mid-request (readBody sees ECONNRESET "aborted"): routine.
      if (isClientAbort(err) || responseGone(res)) {
        logger.debug({ req_id: requestId, reason: describeValue(err) }, "client went away");
        res.destroy?.();
        return;
      }
      logger.error({ req_id: requestId, err: errorInfo(err) }, "unexpected error");
    }
    if (res.headersSent) {
      res.destroy?.();
      return;
    }
    const status = known ? httpStatusOf(known) : 500;
    const body = encodeError(known ? known.message : INTERNAL_MESSAGE);
    const extra =
      known?.retryAfterSeconds !== undefined ? { "retry-after": String(known.retryAfterSeconds) } : undefined;
    send(res, status, head ? undefined : body, requestId, extra, Buffer.byteLength(body));
  }

  const handler: NodeHandler = (req, res) => {
    const tagged = req as Tagged;
    const requestId = requestIdOf(req.headers);
    tagged[REQUEST_ID] = requestId;
    if (shuttingDown && req.httpVersionMajor === 1) res.setHeader("connection", "close");

    if (logRequests) {
      const start = process.hrtime.bigint();
      res.once("finish", () => {
        logger.info(
          {
            req_id: requestId,
            method: req.method,
            path: (req.url ?? "").split("?", 1)[0],
            status: res.statusCode,
            proto: req.httpVersionMajor === 2 ? "h2" : "http/1.1",
            ms: Number(process.hrtime.bigint() - start) / 1e6,
          },
          "request",
        );
      });
    }

    try {
      if (cors.enabled) {
        const origin = req.headers.origin;
        if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
          const h = cors.preflightHeaders(origin);
          if (h) {
            res.writeHead(204, { ...h, "x-request-id": requestId });
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
        res.setHeader("x-request-id", requestId);
        connect(
          req as never,
          res as never,
          req.httpVersionMajor === 2 ? takePreread(req as Http2ServerRequest) : undefined,
        );
        return;
      }
      if (m.kind === "method_not_allowed") {
        send(res, 405, encodeError(`Method ${req.method} not allowed on ${path}`), requestId, {
          allow: m.allow,
        });
        return;
      }
      void serveRest(req, res, m.route, m.handler, m.head, q < 0 ? "" : url.slice(q + 1), requestId);
    } catch (err) {
      sendError(res, err, requestId);
    }
  };

  return {
    handler,
    stream,
    restPaths: router.paths,
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

function isDeadline(reason: unknown): boolean {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
}
