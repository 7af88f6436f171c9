// Error answers for RPC requests that Connect-Node never sees (an unknown method, a bidi stream over
// HTTP/1.1, a request Connect cannot even parse), in the shape each protocol's clients read, built
// with Connect's own serializers so they match what Connect itself sends:
//   gRPC      HTTP 200, grpc-status / grpc-message as trailers (HTTP/2) or headers (HTTP/1.1,
//             "trailers-only": an HTTP/1.1 response without a body carries no trailers)
//   gRPC-Web  HTTP 200, one trailer frame in the body (as Connect answers gRPC-Web errors)
//   Connect   the Connect error JSON with a 4xx status: 404 for unimplemented (the status a
//             Connect client maps to `unimplemented` when it reads only the status), else
//             Connect's own status for the code
// A client mistake is never answered with a 5xx.
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

export type RpcProtocol = "grpc" | "grpc-web" | "connect";

const GRPC = /^application\/grpc(?:\+(json|proto))?(?:;|$)/i;
const GRPC_WEB = /^application\/grpc-web(?:-text)?(?:\+(json|proto))?(?:;|$)/i;
const CONNECT_STREAM = /^application\/connect\+/i;
const CONNECT_UNARY_PROTO = /^application\/proto(?:;|$)/i;
const JSON_TYPE = /^application\/json(?:;|$)/i;

/**
 * The RPC protocol a request speaks, from its content type; undefined for anything else (REST and
 * strangers). `application/json` is Connect only with the header Connect clients always send
 * (connect-protocol-version): without it, it is a REST call.
 */
export function rpcProtocolOf(
  contentType: string | undefined,
  connectVersion: string | string[] | undefined,
): RpcProtocol | undefined {
  if (contentType === undefined) return undefined;
  if (GRPC_WEB.test(contentType)) return "grpc-web";
  if (GRPC.test(contentType)) return "grpc";
  if (CONNECT_STREAM.test(contentType) || CONNECT_UNARY_PROTO.test(contentType)) return "connect";
  if (JSON_TYPE.test(contentType) && connectVersion !== undefined) return "connect";
  return undefined;
}

/** `close`: send Connection: close (HTTP/1.1; a full-duplex client would otherwise hang). */
export function rpcErrorResponse(
  protocol: RpcProtocol,
  contentType: string,
  httpMajor: number,
  error: ConnectError,
  close = false,
): UniversalServerResponse {
  const header = new Headers();
  if (close) header.set("connection", "close");
  const json = /\+json/i.test(contentType);
  switch (protocol) {
    case "grpc": {
      header.set("content-type", json ? "application/grpc+json" : "application/grpc+proto");
      if (httpMajor === 1) {
        setTrailerStatus(header, error);
        return { status: 200, header };
      }
      return { status: 200, header, trailer: setTrailerStatus(new Headers(), error) };
    }
    case "grpc-web": {
      header.set("content-type", json ? "application/grpc-web+json" : "application/grpc-web+proto");
      const frame = encodeEnvelope(trailerFlag, trailerSerialize(setTrailerStatus(new Headers(), error)));
      header.set("content-length", String(frame.byteLength));
      return { status: 200, header, body: once(frame) };
    }
    case "connect": {
      header.set("content-type", "application/json");
      const body = errorToJsonBytes(error, {});
      header.set("content-length", String(body.byteLength));
      const status = error.code === Code.Unimplemented ? 404 : codeToHttpStatus(error.code);
      return { status: status >= 500 ? 400 : status, header, body: once(body) };
    }
  }
}

/** grpc-go's words for an unknown path: the service when it is unknown, else the method. */
export function unimplemented(path: string, services: ReadonlySet<string>): ConnectError {
  const m = /^\/([^/]+)\/([^/]*)$/.exec(path);
  if (!m) return new ConnectError(`malformed method name: ${JSON.stringify(path)}`, Code.Unimplemented);
  const [, service, method] = m as unknown as [string, string, string];
  return services.has(service)
    ? new ConnectError(`unknown method ${method} for service ${service}`, Code.Unimplemented)
    : new ConnectError(`unknown service ${service}`, Code.Unimplemented);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
