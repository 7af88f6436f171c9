// One port for every protocol. Cleartext: the first bytes of each connection decide — the HTTP/2
// client preface ("PRI * HTTP/2.0...") goes to an http2 server (gRPC over h2c), anything else to an
// http server (REST, Connect, gRPC-Web over HTTP/1.1); Node's `allowHTTP1` only works with TLS.
// The sniffed bytes are put back with unshift(), so both servers keep the native socket.
// With TLS, ALPN decides (h2 or http/1.1) inside Node's secure http2 server.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { GrpcFastPath } from "./grpc-fast-path.js";
import type { NodeHandler } from "./handler.js";

export interface TlsFiles {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
}

export interface ListenerOptions {
  readonly handler: NodeHandler;
  /** Sees each HTTP/2 stream before Node's compat layer does (the unary gRPC fast path). */
  readonly stream?: GrpcFastPath | undefined;
  readonly tls?: TlsFiles | undefined;
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

export class Listener {
  private readonly server: net.Server;
  private readonly http1: http.Server | undefined;
  private readonly h2: http2.Http2Server | http2.Http2SecureServer;
  private readonly sockets = new Set<Duplex>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly tls: boolean;

  private closing = false;

  constructor(options: ListenerOptions) {
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
    this.tls = options.tls !== undefined;
    if (options.tls) {
      const secure = http2.createSecureServer(
        { cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, ALPNProtocols: ["h2", "http/1.1"] },
        handler,
      );
      this.h2 = secure;
      this.server = secure;
      secure.on("secureConnection", (s) => this.track(s));
    } else {
      this.http1 = http.createServer(handler);
      this.http1.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
      // This server never listens itself (the net server hands it sockets), but its headers and
      // request timeouts (slow-client protection) are only checked once it has seen "listening".
      this.http1.emit("listening");
      this.h2 = http2.createServer(handler);
      // noDelay: gRPC answers are small writes; Nagle + delayed ACK would add ~40 ms to each.
      this.server = net.createServer({ noDelay: true }, (socket) => this.sniff(socket));
    }
    if (options.stream) this.interceptStreams(options.stream);
    this.h2.on("session", (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
    });
  }

  /**
   * Node's compat layer (request/response objects) is a `stream` listener the http2 server adds for
   * the request handler. It is taken off and called only for streams the fast path does not take.
   */
  private interceptStreams(fast: GrpcFastPath): void {
    const server = this.h2;
    const compat = server.listeners("stream") as Array<(...args: unknown[]) => void>;
    server.removeAllListeners("stream");
    server.on(
      "stream",
      (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => {
        const toCompat = () => {
          for (const l of compat) l.call(server, stream, headers, flags, raw);
        };
        if (!fast(stream, headers, toCompat)) toCompat();
      },
    );
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private sniff(socket: net.Socket): void {
    this.track(socket);
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < PREFACE.length) return; // could still be either: wait for more bytes
      socket.off("data", onData);
      socket.off("error", onError);
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
