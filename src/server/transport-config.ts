// The transport's limits: how long a client may take for each phase of a connection and how much
// of the server it may hold at once. Every limit applies before authentication (a client without
// a key can hold a socket as long as one with a key), so each has a default that is safe on an
// open port. Read once at startup (src/config.ts calls transportLimitsFromEnv); the Listener
// applies them to Node's servers once, so the per-request path checks nothing.

export interface TransportLimits {
  /** Cleartext: the first bytes (the HTTP/2 preface sniff); TLS: the handshake. */
  readonly handshakeTimeoutMs: number;
  /** HTTP/1.1: the request line and headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /**
   * The whole request (headers and body) must arrive within this: HTTP/1.1 per request (Node's
   * requestTimeout, 408), HTTP/2 per stream from its HEADERS frame to its END_STREAM (reset with
   * CANCEL). Only receiving counts: the time the server takes to answer (an approval) does not.
   */
  readonly requestTimeoutMs: number;
  /** An HTTP/1.1 keep-alive connection between requests; an HTTP/2 connection without traffic. */
  readonly idleTimeoutMs: number;
  /** Open connections of every protocol; the next one is closed at once, before a byte is read. */
  readonly maxConnections: number;
  /** Concurrent streams per HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxStreams: number;
}

export const TRANSPORT_DEFAULTS: TransportLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // Longer than the 60 s idle timeout of common load balancers (AWS ALB, GCP), so the proxy, not
  // Aegis, closes an idle keep-alive connection: no request races a close.
  idleTimeoutMs: 65_000,
  maxConnections: 10_000,
  maxStreams: 100,
};

/** The environment variable of each limit (README's configuration table, `aegis serve --help`). */
export const TRANSPORT_ENV: Readonly<Record<keyof TransportLimits, string>> = {
  handshakeTimeoutMs: "AEGIS_HANDSHAKE_TIMEOUT",
  headersTimeoutMs: "AEGIS_HEADERS_TIMEOUT",
  requestTimeoutMs: "AEGIS_REQUEST_TIMEOUT",
  idleTimeoutMs: "AEGIS_IDLE_TIMEOUT",
  maxConnections: "AEGIS_MAX_CONNECTIONS",
  maxStreams: "AEGIS_MAX_STREAMS",
};

// Node's timers take at most 2^31-1 ms; a day is far beyond any sensible timeout anyway.
const MAX_TIMEOUT_S = 86_400;

type ErrorClass = new (message: string) => Error;

function seconds(env: NodeJS.ProcessEnv, key: keyof TransportLimits, Err: ErrorClass): number {
  const name = TRANSPORT_ENV[key];
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return TRANSPORT_DEFAULTS[key];
  const t = raw.trim();
  const s = /^\d+(\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
  // Whole milliseconds, at least one: "0" would mean "no limit" to Node, which is not offered.
  if (!(s * 1000 >= 1) || s > MAX_TIMEOUT_S)
    throw new Err(`${name} must be a number of seconds > 0 and <= ${MAX_TIMEOUT_S}, got "${raw}"`);
  return Math.round(s * 1000);
}

function count(env: NodeJS.ProcessEnv, key: keyof TransportLimits, max: number, Err: ErrorClass): number {
  const name = TRANSPORT_ENV[key];
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return TRANSPORT_DEFAULTS[key];
  const t = raw.trim();
  const n = /^\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!(n >= 1 && n <= max)) throw new Err(`${name} must be an integer between 1 and ${max}, got "${raw}"`);
  return n;
}

/** Throws `Err` (src/config.ts passes its ConfigError) with a one-line message naming the variable. */
export function transportLimitsFromEnv(env: NodeJS.ProcessEnv, Err: ErrorClass = Error): TransportLimits {
  const given: { -readonly [K in keyof TransportLimits]?: number } = {};
  const set = (key: keyof TransportLimits, value: number) => {
    const raw = env[TRANSPORT_ENV[key]];
    if (raw !== undefined && raw.trim() !== "") given[key] = value;
  };
  set("handshakeTimeoutMs", seconds(env, "handshakeTimeoutMs", Err));
  set("headersTimeoutMs", seconds(env, "headersTimeoutMs", Err));
  set("requestTimeoutMs", seconds(env, "requestTimeoutMs", Err));
  set("idleTimeoutMs", seconds(env, "idleTimeoutMs", Err));
  set("maxConnections", count(env, "maxConnections", 1_000_000, Err));
  // HTTP/2 allows 2^31-1; past a few thousand a single connection is an attack, not a client.
  set("maxStreams", count(env, "maxStreams", 10_000, Err));
  const limits = completeTransportLimits(given);
  const problem = checkTransportLimits(limits);
  if (problem) throw new Err(problem);
  return limits;
}

/**
 * The defaults for what is not given. The headers are part of the request, so a request timeout
 * set below the default headers timeout takes the headers timeout down with it (as Node does).
 */
export function completeTransportLimits(given: Partial<TransportLimits> = {}): TransportLimits {
  const limits = { ...TRANSPORT_DEFAULTS, ...given };
  if (given.headersTimeoutMs === undefined && limits.headersTimeoutMs > limits.requestTimeoutMs)
    limits.headersTimeoutMs = limits.requestTimeoutMs;
  return limits;
}

/** The one cross-field rule (Node's http.Server refuses headersTimeout > requestTimeout). */
export function checkTransportLimits(l: TransportLimits): string | undefined {
  if (l.headersTimeoutMs > l.requestTimeoutMs) {
    return `${TRANSPORT_ENV.headersTimeoutMs} (${l.headersTimeoutMs / 1000} s) must not exceed ${TRANSPORT_ENV.requestTimeoutMs} (${l.requestTimeoutMs / 1000} s): the headers are part of the request`;
  }
  return undefined;
}
