// Connect-Node's node adapter (connectNodeAdapter), rebuilt from its public parts so one thing
// can be fixed on the way out: a request message whose protobuf bytes do not decode is the
// client's fault, yet Connect reports it as INTERNAL ("parse binary: ..."). Bad input must never
// look like a server error, so such answers are rewritten to INVALID_ARGUMENT for gRPC (trailers),
// gRPC-Web (trailer frame) and Connect (HTTP 500 JSON -> 400). Only error responses pay for this.

import type { ConnectRouterOptions } from "@connectrpc/connect";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createConnectRouter,
} from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";

type NodeReq = Parameters<typeof universalRequestFromNodeRequest>[0];
type NodeRes = Parameters<typeof universalResponseToNodeResponse>[1];

export interface AdapterOptions extends ConnectRouterOptions {
  readonly routes: (router: ConnectRouter) => void;
  readonly fallback: (req: NodeReq, res: NodeRes) => void;
  readonly contextValues?: (req: NodeReq) => ContextValues;
  readonly onHandlerError?: (err: unknown, rpc: string) => void;
}

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
  return (req, res, body) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const handler = paths.get(q < 0 ? url : url.slice(0, q));
    if (!handler) {
      options.fallback(req, res);
      return;
    }
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    handler(body === undefined ? uReq : { ...uReq, body })
      .then((uRes) => {
        const fixed = correct(uRes, res);
        return fixed instanceof Promise
          ? fixed.then((f) => universalResponseToNodeResponse(f, res))
          : universalResponseToNodeResponse(fixed, res);
      })
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.onHandlerError?.(reason, `${handler.service.typeName}/${handler.method.name}`);
      });
  };
}
