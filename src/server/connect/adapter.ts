// Connect-Node's node adapter (connectNodeAdapter), rebuilt from its public parts so one thing
// can be fixed on the way out: a request message whose protobuf bytes do not decode is the
// client's fault, yet Connect reports it as INTERNAL ("parse binary: ..."). Bad input must never
// look like a server error, so such answers are rewritten to INVALID_ARGUMENT for gRPC (trailers),
// gRPC-Web (trailer frame) and Connect (HTTP 500 JSON -> 400). Only error responses pay for this.
//
// Also answered here, never with a 5xx (rpc-reply.ts has the shapes):
//   - an unknown method asked for in an RPC protocol: UNIMPLEMENTED the way that protocol's
//     clients read it (gRPC and gRPC-Web: HTTP 200 + grpc-status 12; Connect: 404 + its error
//     JSON); anything else goes to `fallback` (REST's 404);
//   - a bidi-streaming RPC (reflection) over HTTP/1.1, which Connect answers with HTTP 505:
//     UNIMPLEMENTED "bidirectional streaming needs HTTP/2" (its 405 / 415 stay as Connect has them);
//   - a request Connect cannot turn into its own (no or an unparsable :authority / Host):
//     INVALID_ARGUMENT.
// The request body reaches Connect regrouped into whole messages (coalesce.ts), and a message
// flagged compressed without an encoding is INVALID_ARGUMENT there. A handler that fails because
// the client went away is logged at debug (log-error.ts), not as an error.

import type { ConnectRouterOptions } from "@connectrpc/connect";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createConnectRouter,
} from "@connectrpc/connect";
import {
  type UniversalServerResponse,
  uResponseMethodNotAllowed,
  uResponseUnsupportedMediaType,
} from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { wholeBody, wholeEnvelopes } from "../private/coalesce.js";
import { describeValue, isClientAbort } from "../private/log-error.js";
import { type RpcProtocol, rpcErrorResponse, rpcProtocolOf, unimplemented } from "../private/rpc-reply.js";

type NodeReq = Parameters<typeof universalRequestFromNodeRequest>[0];
type NodeRes = Parameters<typeof universalResponseToNodeResponse>[1];

export interface AdapterOptions extends ConnectRouterOptions {
  readonly routes: (router: ConnectRouter) => void;
  readonly fallback: (req: NodeReq, res: NodeRes) => void;
  readonly contextValues?: (req: NodeReq) => ContextValues;
  readonly onHandlerError?: (err: unknown, rpc: string) => void;
  /** A call that ended because the client went away (reset, cancel, closed connection). */
  readonly onClientAbort?: (err: unknown, rpc: string) => void;
}

const BIDI_OVER_HTTP1 = "bidirectional streaming needs HTTP/2";
// Connect's default readMaxBytes (0xffffffff) when none is configured.
const CONNECT_MAX_BYTES = 0xffffffff;
// gRPC, gRPC-Web (not -text: base64, which Connect refuses with 415) and Connect streaming.
const ENVELOPED = /^application\/(?:grpc(?:-web)?(?:[+;]|$)|connect\+)/i;
const GRPC_FAMILY = /^application\/grpc/i;
const CONNECT_UNARY = /^application\/(?:json|proto)(?:;|$)/i;

const PARSE_PREFIX = "parse binary";
const GRPC_INTERNAL = String(Code.Internal);
const GRPC_INVALID = String(Code.InvalidArgument);

function isParseFailure(message: string | null): boolean {
  if (message === null) return false;
  try {
    return decodeURIComponent(message).startsWith(PARSE_PREFIX);
  } catch {
    return message.startsWith(PARSE_PREFIX);
  }
}

/**
 * gRPC writes its status as HTTP/2 trailers after the body, so the fix hooks addTrailers of this
 * one response: no extra async hop or wrapper object on the hot path.
 */
function fixGrpcTrailers(res: NodeRes): void {
  const r = res as unknown as { addTrailers(h: Record<string, string | string[] | undefined>): void };
  const add = r.addTrailers;
  r.addTrailers = (h) => {
    if (h["grpc-status"] === GRPC_INTERNAL && isParseFailure(String(h["grpc-message"] ?? ""))) {
      h["grpc-status"] = GRPC_INVALID;
    }
    add.call(res, h);
  };
}

async function* fixGrpcWebTrailer(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    // A failed parse answers with nothing but the trailer frame (flag 0x80 + length + text).
    if (chunk.length > 5 && chunk[0] === 0x80) {
      const text = Buffer.from(chunk.subarray(5)).toString("utf8");
      const status = /(^|\r\n)grpc-status: *(\d+)/.exec(text)?.[2];
      const message = /(^|\r\n)grpc-message: *([^\r\n]*)/.exec(text)?.[2] ?? null;
      if (status === GRPC_INTERNAL && isParseFailure(message)) {
        const fixed = Buffer.from(text.replace(/grpc-status: *\d+/, `grpc-status: ${GRPC_INVALID}`), "utf8");
        const frame = Buffer.alloc(5 + fixed.length);
        frame[0] = 0x80;
        frame.writeUInt32BE(fixed.length, 1);
        fixed.copy(frame, 5);
        yield frame;
        continue;
      }
    }
    yield chunk;
  }
}

async function fixConnectUnary(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  if (res.body) for await (const c of res.body) chunks.push(c);
  const raw = Buffer.concat(chunks);
  let parsed: { code?: string; message?: string } | undefined;
  try {
    parsed = JSON.parse(raw.toString("utf8")) as { code?: string; message?: string };
  } catch {
    parsed = undefined;
  }
  let out: Uint8Array = raw;
  let status = res.status;
  if (parsed?.code === "internal" && isParseFailure(parsed.message ?? null)) {
    status = 400;
    out = Buffer.from(JSON.stringify({ ...parsed, code: "invalid_argument" }));
    res.header?.delete("content-length");
  }
  return {
    ...res,
    status,
    body: (async function* () {
      yield out;
    })(),
  };
}

function correct(
  res: UniversalServerResponse,
  nodeRes: NodeRes,
): UniversalServerResponse | Promise<UniversalServerResponse> {
  const type = res.header?.get("content-type") ?? "";
  if (type.startsWith("application/grpc")) {
    if (type.startsWith("application/grpc-web"))
      return res.body ? { ...res, body: fixGrpcWebTrailer(res.body) } : res;
    fixGrpcTrailers(nodeRes);
    return res;
  }
  if (res.status === 500 && type.startsWith("application/json")) return fixConnectUnary(res);
  return res;
}

/**
 * `body`, when given, replaces the request body: the gRPC fast path hands over a request it has
 * started to read (the bytes it buffered, then the rest of the stream).
 */
export type ConnectAdapter = (req: NodeReq, res: NodeRes, body?: AsyncIterable<Uint8Array>) => void;

export function createConnectAdapter(options: AdapterOptions): ConnectAdapter {
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...options,
  });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const services = new Set(router.handlers.map((h) => h.service.typeName));
  const readMaxBytes = options.readMaxBytes ?? CONNECT_MAX_BYTES;

  /** Writes one of our own answers; a client gone by then is nothing to report. */
  const answer = (res: NodeRes, uRes: UniversalServerResponse, rpc: string) => {
    universalResponseToNodeResponse(uRes, res).catch((reason: unknown) => {
      if (isClientAbort(reason) || res.destroyed) options.onClientAbort?.(reason, rpc);
      else options.onHandlerError?.(reason, rpc);
    });
  };

  return (req, res, body) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const handler = paths.get(path);
    const contentType = headerOf(req, "content-type");
    if (!handler) {
      const protocol = rpcProtocolOf(contentType, req.headers["connect-protocol-version"]);
      if (protocol === undefined) options.fallback(req, res);
      else
        answer(
          res,
          rpcErrorResponse(protocol, contentType ?? "", req.httpVersionMajor, unimplemented(path, services)),
          path,
        );
      return;
    }
    const rpc = `${handler.service.typeName}/${handler.method.name}`;
    if (handler.method.methodKind === "bidi_streaming" && req.httpVersionMajor === 1) {
      answer(res, bidiOverHttp1(handler, req.method ?? "", contentType ?? ""), rpc);
      return;
    }
    let uReq: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    } catch (err) {
      // No :authority / Host, or one that is not a URL authority: the request, not the server.
      const message = `invalid request: ${describeValue(err)}`;
      const protocol: RpcProtocol = rpcProtocolOf(contentType, "1") ?? "connect";
      answer(
        res,
        rpcErrorResponse(
          protocol,
          contentType ?? "",
          req.httpVersionMajor,
          new ConnectError(message, Code.InvalidArgument),
        ),
        rpc,
      );
      return;
    }
    const source = body ?? (uReq.body as AsyncIterable<Uint8Array>);
    let regrouped: AsyncIterable<Uint8Array> = source;
    if (contentType !== undefined) {
      if (ENVELOPED.test(contentType)) {
        const enc = headerOf(
          req,
          GRPC_FAMILY.test(contentType) ? "grpc-encoding" : "connect-content-encoding",
        );
        regrouped = wholeEnvelopes(source, readMaxBytes, enc !== undefined && enc !== "identity");
      } else if (CONNECT_UNARY.test(contentType)) regrouped = wholeBody(source, readMaxBytes);
    }
    handler({ ...uReq, body: regrouped })
      .then((uRes) => {
        const fixed = correct(uRes, res);
        return fixed instanceof Promise
          ? fixed.then((f) => universalResponseToNodeResponse(f, res))
          : universalResponseToNodeResponse(fixed, res);
      })
      .catch((reason: unknown) => {
        if (isClientAbort(reason) || res.destroyed) options.onClientAbort?.(reason, rpc);
        else options.onHandlerError?.(reason, rpc);
      });
  };
}

/** Connect's checks before its 505, then UNIMPLEMENTED in the request's protocol. */
function bidiOverHttp1(
  handler: { allowedMethods: readonly string[]; supportedContentType(type: string): boolean },
  method: string,
  contentType: string,
): UniversalServerResponse {
  if (!handler.allowedMethods.includes(method)) return uResponseMethodNotAllowed;
  const protocol = handler.supportedContentType(contentType) ? rpcProtocolOf(contentType, "1") : undefined;
  if (protocol === undefined) return uResponseUnsupportedMediaType;
  // Connection: close, as Connect does: a client that expected full duplex may otherwise hang.
  return rpcErrorResponse(
    protocol,
    contentType,
    1,
    new ConnectError(BIDI_OVER_HTTP1, Code.Unimplemented),
    true,
  );
}

function headerOf(req: NodeReq, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
