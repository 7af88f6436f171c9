// Every unary RPC over gRPC (HTTP/2), served on the raw stream: the listener offers each HTTP/2
// stream here before Node's compat layer. One buffered message, decode, the call pipeline, the
// service's implementation (the same object Connect serves), one framed reply and trailers.
// Connect-Node's generic pipeline (async iterables, an AbortController and signal per request,
// DOMException on abort) and the compat request/response objects cost far more than most of our
// handlers; this path skips them. (Measured with h2load, 50 connections: Evaluate went from
// ~2.2k to ~7.8k req/s when this path was introduced; see bench/server.ts.)
//
// It answers exactly like Connect: the same order of checks (message size, decoding, then the
// pipeline's auth, then the handler), the same codes and messages, the same response headers.
// Anything else (other content types such as grpc+json, a grpc-encoding, a compressed or second
// message, an incomplete envelope, no message, a grpc-timeout Connect would refuse, a streaming
// method) is handed to Connect with the bytes read so far, so Connect answers it as it always has.
import type { IncomingHttpHeaders } from "node:http";
import type { Http2ServerRequest, ServerHttp2Stream } from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { CallPipeline } from "../call.js";
import { toConnectError } from "../errors.js";
import { Accumulator } from "../private/accumulate.js";
import type { RequestIds } from "../request-id.js";
import type { ServedMethod } from "../services/service-impl.js";
import { callSignal } from "./call-signal.js";
import { parseGrpcTimeout } from "./timeout.js";

export interface UnaryHandlerDeps {
  /** Every method by request path; only the unary ones are served here. */
  readonly methods: ReadonlyMap<string, ServedMethod>;
  readonly pipeline: CallPipeline;
  readonly requestIds: RequestIds;
  /** Connect's readMaxBytes: the largest message accepted. */
  readonly maxBodyBytes: number;
}

/**
 * Takes an HTTP/2 stream (before Node's compat layer sees it) and returns true if it serves it, or
 * false (untouched: the caller hands it to the compat layer). `compat` hands a stream over after
 * the body has been read in part: those bytes go to Connect via `takePreread`.
 */
export type GrpcUnaryHandler = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  compat: () => void,
) => boolean;

const PREREAD = Symbol("aegis.grpcPreread");
type Preread = { readonly chunks: Buffer[]; readonly ended: boolean };
type Marked = ServerHttp2Stream & { [PREREAD]?: Preread };

/**
 * The body of a request the fast path handed over after reading part of it: what it read, then
 * the rest of the request. `undefined` for every other request (Connect reads the request itself).
 */
export function takePreread(req: Http2ServerRequest): AsyncIterable<Uint8Array> | undefined {
  const stream = req.stream as Marked | undefined;
  const pre = stream?.[PREREAD];
  if (pre === undefined) return undefined;
  stream![PREREAD] = undefined;
  return replay(pre.chunks, pre.ended ? undefined : req);
}

function ignore(): void {}

interface Unary {
  readonly served: ServedMethod;
  readonly parse: (body: Uint8Array) => unknown;
  readonly encode: (out: unknown) => Uint8Array;
  readonly run: (req: unknown, call: unknown) => unknown;
}

// Connect answers with the protobuf sub-type spelled out, whichever of the two the client sent.
const CONTENT_TYPE = "application/grpc+proto";
const OK_TRAILERS = { "grpc-status": "0" } as const;
const TRAILERS = Symbol("aegis.grpcTrailers");
type Answering = ServerHttp2Stream & { [TRAILERS]?: Record<string, string> };

/** Sends the trailers a response stored on its stream (one shared listener, no closure per call). */
function sendTrailers(this: Answering): void {
  const t = this[TRAILERS];
  if (t !== undefined && !this.destroyed) this.sendTrailers(t);
}
const HEADER_BYTES = 5;
const PLAIN_AUTHORITY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function createGrpcUnaryHandler(deps: UnaryHandlerDeps): GrpcUnaryHandler {
  const { pipeline, requestIds, maxBodyBytes } = deps;
  const unary = new Map<string, Unary>();
  for (const [path, served] of deps.methods) {
    const m = served.method;
    if (m.methodKind !== "unary") continue;
    unary.set(path, {
      served,
      parse: (body) => fromBinary(m.input, body),
      encode: (out) => toBinary(m.output, create(m.output, out as never)),
      run: served.impl as (req: unknown, call: unknown) => unknown,
    });
  }

  function respond(stream: Answering, requestId: string, trailers: Record<string, string>, body?: Buffer) {
    if (stream.destroyed || stream.closed) return; // the client went away: nobody to answer
    stream[TRAILERS] = trailers;
    stream.once("wantTrailers", sendTrailers);
    stream.respond(
      { ":status": 200, "content-type": CONTENT_TYPE, "x-request-id": requestId },
      { waitForTrailers: true },
    );
    if (body === undefined) stream.end();
    else stream.end(body);
  }

  function reply(stream: ServerHttp2Stream, requestId: string, message: Uint8Array): void {
    const frame = Buffer.allocUnsafe(HEADER_BYTES + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, HEADER_BYTES);
    respond(stream, requestId, OK_TRAILERS, frame);
  }

  function fail(
    stream: ServerHttp2Stream,
    requestId: string,
    code: Code,
    message: string,
    metadata?: Record<string, string>,
  ): void {
    // Connect's trailers are a Headers object, whose keys come out sorted.
    const trailers: Record<string, string> = {
      ...metadata,
      "grpc-message": encodeURIComponent(message),
      "grpc-status": String(code),
    };
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(trailers).sort()) sorted[k] = trailers[k] as string;
    respond(stream, requestId, sorted);
  }

  function answer(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    record: ReturnType<CallPipeline["record"]>,
    u: Unary,
    msg: Uint8Array,
    timeoutMs: number | undefined,
    arrived: number,
  ) {
    const requestId = record.requestId;
    const failWith = (err: unknown) => {
      const e = pipeline.failure(record, err, stream.destroyed || stream.closed);
      pipeline.end(record, e.code);
      const ce = toConnectError(e);
      const trailers: Record<string, string> = {};
      ce.metadata.forEach((v, k) => {
        trailers[k] = v;
      });
      fail(stream, requestId, ce.code, ce.rawMessage, trailers);
    };
    // Connect decodes the message before its interceptors run: bad bytes win over a bad key.
    let parsed: unknown;
    try {
      parsed = u.parse(msg);
    } catch (err) {
      // Connect says INTERNAL "parse binary: ..."; the adapter makes it INVALID_ARGUMENT.
      const m = err instanceof Error ? err.message : String(err);
      fail(stream, requestId, Code.InvalidArgument, `parse binary: ${m}`);
      return;
    }
    let out: unknown;
    try {
      const call = pipeline.begin(
        record,
        "grpc",
        u.served.rpc,
        u.served.access,
        (n) => header(headers, n),
        () => callSignal(stream, timeoutMs, arrived),
      );
      out = u.run(parsed, call);
    } catch (err) {
      failWith(err);
      return;
    }
    const done = (value: unknown) => {
      let bytes: Uint8Array;
      try {
        bytes = u.encode(value);
      } catch (err) {
        failWith(err);
        return;
      }
      pipeline.end(record, "ok");
      reply(stream, requestId, bytes);
    };
    if (!(out instanceof Promise)) {
      done(out);
      return;
    }
    // respond() checks that the stream is still open; nothing here may reject unhandled.
    out.then(done, failWith).catch(failWith);
  }

  return (stream, headers, compat) => {
    if (headers[":method"] !== "POST") return false;
    const path = headers[":path"] as string | undefined; // a pseudo-header: one string
    const u = path === undefined ? undefined : unary.get(path);
    if (u === undefined || path === undefined) return false;
    const type = headers["content-type"];
    if (type !== "application/grpc" && type !== "application/grpc+proto") return false;
    // An authority that is not plainly host[:port] (Connect builds a URL from it): Connect decides.
    const authority = headers[":authority"];
    if (typeof authority !== "string" || !PLAIN_AUTHORITY.test(authority)) return false;
    const enc = headers["grpc-encoding"];
    if (enc !== undefined && enc !== "identity") return false;
    const grpcTimeout = headers["grpc-timeout"];
    let timeoutMs: number | undefined;
    if (grpcTimeout !== undefined) {
      if (typeof grpcTimeout !== "string") return false;
      timeoutMs = parseGrpcTimeout(grpcTimeout);
      if (timeoutMs === undefined) return false; // Connect's INVALID_ARGUMENT, with its exact words
    }
    const arrived = timeoutMs === undefined ? 0 : performance.now();

    const record = pipeline.record(requestIds(headers["x-request-id"]));
    // The bytes so far in one buffer, never as a list of the client's chunks (accumulate.ts).
    let body: Accumulator | undefined;
    let length = -1; // the message length, once the 5-byte header is in
    let done = false;

    stream.on("error", ignore); // a reset by the client must not become an uncaught 'error'
    const onClose = pipeline.logsRequests
      ? () => pipeline.logRequest(record, "POST", path, 200, "h2")
      : undefined;
    if (onClose) stream.once("close", onClose);
    const stop = () => {
      done = true;
      stream.off("data", onData);
      stream.off("end", onEnd);
    };
    const handOver = (ended: boolean) => {
      stop();
      stream.pause();
      stream.off("error", ignore);
      if (onClose) stream.off("close", onClose); // the compat handler logs it
      (stream as Marked)[PREREAD] = { chunks: body === undefined ? [] : [body.take()], ended };
      body = undefined;
      compat();
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      body ??= new Accumulator(maxBodyBytes + HEADER_BYTES + 1);
      body.push(chunk);
      const size = body.size;
      if (length < 0 && size >= HEADER_BYTES) {
        const head = body.bytes();
        if (head[0] !== 0) {
          handOver(false); // compressed (or a reserved flag): Connect's business
          return;
        }
        length = head.readUInt32BE(1);
        if (length > maxBodyBytes) {
          stop();
          body = undefined;
          fail(
            stream,
            record.requestId,
            Code.ResourceExhausted,
            `message size ${length} is larger than configured readMaxBytes ${maxBodyBytes}`,
          );
          return;
        }
      }
      if (length >= 0 && size > HEADER_BYTES + length)
        handOver(false); // a second message
      else if (length < 0 || size < HEADER_BYTES + length) body.compact(); // more to wait for
    };
    const onEnd = () => {
      if (done) return;
      const size = body === undefined ? 0 : body.size;
      if (length < 0 || size !== HEADER_BYTES + length || body === undefined) {
        handOver(true); // nothing, or an incomplete envelope: Connect has the exact words
        return;
      }
      stop();
      const all = body.take();
      body = undefined;
      answer(stream, headers, record, u, all.subarray(HEADER_BYTES), timeoutMs, arrived);
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    return true;
  };
}

async function* replay(
  read: Buffer[],
  rest: AsyncIterable<Uint8Array> | undefined,
): AsyncIterable<Uint8Array> {
  for (const c of read) yield c;
  if (rest) for await (const c of rest) yield c;
}
