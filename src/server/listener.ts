// One port for every protocol. Cleartext: the first bytes of each connection decide — the HTTP/2
// client preface ("PRI * HTTP/2.0...") goes to an http2 server (gRPC over h2c), anything else to an
// http server (REST, Connect, gRPC-Web over HTTP/1.1); Node's `allowHTTP1` only works with TLS.
// The sniffed bytes are put back with unshift(), so both servers keep the native socket.
// With TLS, ALPN decides (h2 or http/1.1) inside Node's secure http2 server.
//
// Limits (transport-config.ts), all set up here once, none checked per request by our code except
// one timer per HTTP/2 request stream with a body:
//   connection count       net.Server.maxConnections: the next socket is closed before it is read
//   first bytes / TLS      the sniff (cleartext) and the TLS handshake must finish in handshakeTimeout
//   HTTP/1.1               Node's headersTimeout, requestTimeout (408) and keepAliveTimeout (idle)
//   HTTP/2                 SETTINGS_MAX_CONCURRENT_STREAMS; a request stream must end (END_STREAM)
//                          within requestTimeout (else RST_STREAM CANCEL); a session without traffic
//                          for idleTimeout gets GOAWAY (its open streams still finish)
// Per stream, the body is bounded by AEGIS_MAX_BODY_BYTES where it is read (fast path, Connect,
// REST), and stored without per-chunk overhead (private/accumulate.ts); Node buffers at most the
// stream's flow-control window for a stream nobody reads.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { GrpcUnaryHandler } from "./grpc-unary/unary-handler.js";
import type { Logger } from "./logger.js";
import type { NodeHandler } from "./node-types.js";
import { TRANSPORT_DEFAULTS, type TransportLimits } from "./transport-config.js";

export interface TlsFiles {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
}

export interface ListenerOptions {
  readonly handler: NodeHandler;
  /** Sees each HTTP/2 stream before Node's compat layer does (the unary gRPC fast path). */
  readonly stream?: GrpcUnaryHandler | undefined;
  readonly tls?: TlsFiles | undefined;
  /** Timeouts and caps; default TRANSPORT_DEFAULTS. */
  readonly limits?: TransportLimits | undefined;
  /** For the (rate-limited) warning when the connection limit refuses connections. */
  readonly logger?: Logger | undefined;
}

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
  /** e.g. `http://127.0.0.1:8000` or `https://[::1]:8443`. */
  readonly url: string;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

// Per HTTP/1.1 socket: requests in flight, so shutdown can close idle keep-alive connections at
// once and busy ones right after their response (responses then say `Connection: close`).
const IN_FLIGHT = Symbol("aegis.inFlight");
const IS_H2 = Symbol("aegis.isH2");
type Tracked = Duplex & { [IN_FLIGHT]?: number; [IS_H2]?: boolean; alpnProtocol?: string | false };

// The request timer of an HTTP/2 stream; the callbacks are shared (no closure per stream).
const REQUEST_TIMER = Symbol("aegis.requestTimer");
type TimedStream = http2.ServerHttp2Stream & { [REQUEST_TIMER]?: NodeJS.Timeout | undefined };
function requestReceived(this: TimedStream): void {
  clearTimeout(this[REQUEST_TIMER]);
  this[REQUEST_TIMER] = undefined;
}
function requestTimedOut(stream: TimedStream): void {
  stream[REQUEST_TIMER] = undefined;
  // The request never finished: the client gets RST_STREAM CANCEL (gRPC: CANCELLED), and whoever
  // reads the body (fast path, Connect, REST) sees the stream close like a client cancel.
  if (!stream.destroyed && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
}
function destroyOnTimeout(this: net.Socket): void {
  this.destroy();
}
function closeIdleSession(this: http2.ServerHttp2Session): void {
  // GOAWAY: no new streams; streams in flight (an answer waiting for an approval) still finish.
  if (!this.closed && !this.destroyed) this.close();
}

// At most one warning per interval about refused connections (a flood must not flood the log).
const DROP_WARN_INTERVAL_MS = 60_000;

export class Listener {
  private readonly server: net.Server;
  private readonly http1: http.Server | undefined;
  private readonly h2: http2.Http2Server | http2.Http2SecureServer;
  private readonly sockets = new Set<Duplex>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly tls: boolean;
  private readonly limits: TransportLimits;

  private closing = false;

  constructor(options: ListenerOptions) {
    const limits = options.limits ?? TRANSPORT_DEFAULTS;
    this.limits = limits;
    const inner = options.handler;
    const tracked: NodeHandler = (req, res) => {
      if (req.httpVersionMajor === 1) {
        const sock = req.socket as Tracked;
        sock[IN_FLIGHT] = (sock[IN_FLIGHT] ?? 0) + 1;
        res.once("close", () => {
          sock[IN_FLIGHT] = (sock[IN_FLIGHT] ?? 1) - 1;
          if (this.closing && sock[IN_FLIGHT] === 0) sock.end();
        });
      }
      inner(req, res);
    };
    // Both servers get the same compat-API handler; Connect-Node accepts either request type.
    const handler = tracked as never;
    const h2Options: http2.ServerOptions = {
      settings: { maxConcurrentStreams: limits.maxStreams },
      // nghttp2's own memory per session (header blocks, queued frames), Node's default of 10 MB,
      // named here because it is one of the bounds: over it new streams are refused.
      maxSessionMemory: 10,
    };
    this.tls = options.tls !== undefined;
    if (options.tls) {
      const secure = http2.createSecureServer(
        {
          ...h2Options,
          cert: options.tls.cert,
          key: options.tls.key,
          allowHTTP1: true,
          ALPNProtocols: ["h2", "http/1.1"],
          handshakeTimeout: limits.handshakeTimeoutMs,
        },
        handler,
      );
      // HTTP/1.1 over TLS is served by the secure server itself (allowHTTP1): Node reads the same
      // timeout properties from it as from an http.Server (its defaults: 60 s, 300 s, no idle limit).
      Object.assign(secure, http1Timeouts(limits));
      this.h2 = secure;
      this.server = secure;
      secure.on("secureConnection", (s) => this.track(s));
    } else {
      this.http1 = http.createServer(http1Timeouts(limits), handler);
      // This server never listens itself (the net server hands it sockets), but its headers and
      // request timeouts (slow-client protection) are only checked once it has seen "listening".
      this.http1.emit("listening");
      this.h2 = http2.createServer(h2Options, handler);
      // noDelay: gRPC answers are small writes; Nagle + delayed ACK would add ~40 ms to each.
      this.server = net.createServer({ noDelay: true }, (socket) => this.sniff(socket));
    }
    // Counted by Node on the accepting server for every protocol; over the limit a new connection
    // is closed at once (no read, no TLS), and 'drop' tells us.
    this.server.maxConnections = limits.maxConnections;
    const logger = options.logger;
    if (logger) {
      let dropped = 0;
      let lastWarn = 0;
      this.server.on("drop", () => {
        dropped++;
        const now = Date.now();
        if (now - lastWarn < DROP_WARN_INTERVAL_MS) return;
        lastWarn = now;
        logger.warn(
          { refused: dropped, max_connections: limits.maxConnections },
          "connection limit reached (AEGIS_MAX_CONNECTIONS): new connections are closed",
        );
        dropped = 0;
      });
    }
    this.interceptStreams(options.stream, limits.requestTimeoutMs);
    const idleMs = limits.idleTimeoutMs;
    this.h2.on("session", (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      // Refreshed by Node on every frame in or out; fires after idleMs without any.
      session.setTimeout(idleMs, closeIdleSession);
    });
  }

  /**
   * Every request stream with a body gets the request timer (it must end within requestTimeoutMs).
   * Node's compat layer (request/response objects) is a `stream` listener the http2 server adds for
   * the request handler; with a fast path it is taken off and called only for streams the fast path
   * does not take.
   */
  private interceptStreams(fast: GrpcUnaryHandler | undefined, requestTimeoutMs: number): void {
    const server = this.h2;
    const compat = server.listeners("stream") as Array<(...args: unknown[]) => void>;
    server.removeAllListeners("stream");
    server.on(
      "stream",
      (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => {
        if (!stream.endAfterHeaders) {
          const timer = setTimeout(requestTimedOut, requestTimeoutMs, stream);
          timer.unref();
          (stream as TimedStream)[REQUEST_TIMER] = timer;
          stream.on("end", requestReceived);
          stream.on("close", requestReceived);
        }
        const toCompat = () => {
          for (const l of compat) l.call(server, stream, headers, flags, raw);
        };
        if (fast === undefined || !fast(stream, headers, toCompat)) toCompat();
      },
    );
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private sniff(socket: net.Socket): void {
    this.track(socket);
    // A client that connects and sends nothing (or 3 bytes of the preface) must not keep the socket.
    socket.setTimeout(this.limits.handshakeTimeoutMs, destroyOnTimeout);
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length) return; // could still be either: wait for more bytes
      socket.off("data", onData);
      socket.off("error", onError);
      socket.setTimeout(0, destroyOnTimeout); // from here on the http or http2 server's limits apply
      socket.pause();
      socket.unshift(seen);
      if (isH2) {
        (socket as Tracked)[IS_H2] = true;
        // http2 drains bytes already buffered in the paused socket (socket.read() -> the native
        // session's receive()) before it consumes the handle, so the socket must stay paused:
        // resuming would hand bytes to nobody.
        this.h2.emit("connection", socket);
      } else {
        this.http1!.emit("connection", socket);
        socket.resume();
      }
    };
    const onError = () => socket.destroy();
    socket.on("data", onData);
    socket.on("error", onError);
  }

  listen(host: string, port: number): Promise<BoundAddress> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      this.server.listen({ host, port }, () => {
        this.server.off("error", onError);
        const addr = this.server.address() as net.AddressInfo;
        const h = addr.family === "IPv6" || addr.address.includes(":") ? `[${addr.address}]` : addr.address;
        resolve({
          host: addr.address,
          port: addr.port,
          url: `${this.tls ? "https" : "http"}://${h}:${addr.port}`,
        });
      });
    });
  }

  /**
   * Stops accepting, lets in-flight requests finish (HTTP/2 sessions get GOAWAY, idle HTTP/1.1
   * connections close), and after `graceMs` destroys whatever is left.
   */
  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      let sweep: NodeJS.Timeout | undefined;
      let deadline: NodeJS.Timeout | undefined;
      const finish = () => {
        if (done) return;
        done = true;
        clearInterval(sweep);
        clearTimeout(deadline);
        resolve();
      };
      this.closing = true;
      const idle = () => {
        if (this.sockets.size === 0 && this.sessions.size === 0) finish();
      };
      // Idle HTTP/1.1 connections (and ones that never sent a byte) close now; HTTP/2 sessions
      // close themselves after GOAWAY once their streams are done.
      for (const s of this.sockets) {
        const t = s as Tracked;
        if (!t[IS_H2] && t.alpnProtocol !== "h2" && !(t[IN_FLIGHT] ?? 0)) s.destroy();
      }
      this.server.close(() => finish());
      for (const s of this.sessions) s.close();
      sweep = setInterval(idle, 50);
      deadline = setTimeout(() => {
        for (const s of this.sessions) s.destroy();
        for (const s of this.sockets) s.destroy();
        finish();
      }, graceMs);
      deadline.unref();
      idle();
    });
  }
}

/** Node's HTTP/1.1 limits, as options of http.createServer and properties of the secure server. */
function http1Timeouts(l: TransportLimits): {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.idleTimeoutMs,
    // Node checks headersTimeout and requestTimeout on this interval (default 30 s, which would let
    // a 10 s headers timeout run to 40 s): a quarter of the shorter one, between 50 ms and 1 s.
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(l.headersTimeoutMs / 4))),
  };
}
