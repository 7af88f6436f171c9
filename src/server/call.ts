// The one call pipeline every entry point goes through: REST routes (rest/), Connect-Node's
// gRPC, gRPC-Web and Connect (connect/) and the unary gRPC fast path (grpc-unary/). A
// cross-cutting concern is written here once:
//   access check + auth  -> the principal (identity/KeyRing, the RPC's `(aegis.v1.access)`)
//   request id            -> one source (request-id.ts), one value per request everywhere
//   the log line          -> one INFO line per HTTP request, annotated with the call
//   observers             -> the hook metrics and tracing attach to (start and end of each call)
//   error mapping         -> AegisError as it is; a client that went away at debug; anything
//                            else logged with its stack and answered as `internal`
// Everything is decided at setup: an empty observer list and a disabled INFO level cost nothing
// per call.
import { AegisError, type ErrorCode } from "../errors.js";
import type { Access, HeaderGetter, KeyRing, Principal } from "../identity/index.js";
import { asAegisError, INTERNAL_MESSAGE } from "./errors.js";
import type { Logger } from "./logger.js";
import { describeValue, errorInfo, isClientAbort } from "./private/log-error.js";

export type Protocol = "rest" | "connect" | "grpc" | "grpc-web";

/** One call: what every handler and observer gets to know about it. */
export interface Call {
  readonly protocol: Protocol;
  /** `aegis.v1.GovernanceService/Evaluate`. */
  readonly rpc: string;
  readonly requestId: string;
  readonly principal: Principal;
  readonly header: HeaderGetter;
  /** Aborted when the client goes away or a deadline passes; undefined where nobody can abort. */
  readonly signal: AbortSignal | undefined;
}

/** Metrics and tracing attach here. `code` is "ok" or the AegisError code the call ended with. */
export interface CallObserver {
  onStart?(call: Call): void;
  onEnd(call: Call, code: "ok" | ErrorCode, seconds: number): void;
}

/** What the log line of one HTTP request says; the call, when the request was one, annotates it. */
export interface RequestRecord {
  readonly requestId: string;
  readonly start: bigint;
  call?: Call | undefined;
  code?: "ok" | ErrorCode | undefined;
}

export interface CallPipelineOptions {
  /** The keys in force; a function so a reload of the keys file takes effect at once. */
  readonly keys: () => KeyRing;
  readonly logger: Logger;
  readonly observers?: readonly CallObserver[] | undefined;
}

export class CallPipeline {
  private readonly keys: () => KeyRing;
  private readonly logger: Logger;
  private readonly observers: readonly CallObserver[];
  /** Read once: the level is fixed for the life of the process. */
  readonly logsRequests: boolean;

  constructor(options: CallPipelineOptions) {
    this.keys = options.keys;
    this.logger = options.logger;
    this.observers = options.observers ?? [];
    this.logsRequests = options.logger.isLevelEnabled("info");
  }

  /** A record for the log line of a request that starts now. */
  record(requestId: string): RequestRecord {
    return {
      requestId,
      start: this.logsRequests || this.observers.length > 0 ? process.hrtime.bigint() : 0n,
    };
  }

  /**
   * Authenticates and begins a call. Throws `unauthenticated` / `permission_denied`; the caller
   * answers that like any other error (through `failure`).
   */
  begin(
    record: RequestRecord,
    protocol: Protocol,
    rpc: string,
    access: Access,
    header: HeaderGetter,
    signal: AbortSignal | (() => AbortSignal) | undefined,
  ): Call {
    const principal = this.keys().authenticate(access, header);
    const requestId = record.requestId;
    // A signal that costs timers and listeners is made only for a handler that reads it.
    const call: Call =
      typeof signal === "function"
        ? {
            protocol,
            rpc,
            requestId,
            principal,
            header,
            get signal(): AbortSignal {
              const made = signal();
              Object.defineProperty(this, "signal", { value: made });
              return made;
            },
          }
        : { protocol, rpc, requestId, principal, header, signal };
    record.call = call;
    for (const o of this.observers) o.onStart?.(call);
    return call;
  }

  /** Ends a call: observers learn the outcome. */
  end(record: RequestRecord, code: "ok" | ErrorCode): void {
    record.code = code;
    const call = record.call;
    if (call === undefined || this.observers.length === 0) return;
    const seconds = Number(process.hrtime.bigint() - record.start) / 1e9;
    for (const o of this.observers) o.onEnd(call, code, seconds);
  }

  /**
   * The error as the client should get it. Known errors keep their code and message; a client
   * that went away is logged at debug (nobody reads the answer); anything else is a bug, logged
   * with its stack, and answered with the generic internal message.
   */
  failure(record: RequestRecord, err: unknown, clientGone = false): AegisError {
    const known = asAegisError(err);
    if (known) return known;
    const rpc = record.call?.rpc;
    if (clientGone || isClientAbort(err)) {
      this.logger.debug({ req_id: record.requestId, rpc, reason: describeValue(err) }, "client went away");
      return new AegisError("unavailable", "the client went away", undefined, err);
    }
    this.logger.error({ req_id: record.requestId, rpc, err: errorInfo(err) }, "unexpected error");
    return new AegisError("internal", INTERNAL_MESSAGE, undefined, err);
  }

  /** An error after the answer was decided (writing it failed): logged, quietly if the client left. */
  report(err: unknown, rpc: string, clientGone: boolean): void {
    if (clientGone || isClientAbort(err))
      this.logger.debug({ rpc, reason: describeValue(err) }, "client went away");
    else this.logger.error({ rpc, err: errorInfo(err) }, "rpc handler failed");
  }

  /** The INFO line of one HTTP request (only when INFO is enabled: check `logsRequests` first). */
  logRequest(
    record: RequestRecord,
    method: string | undefined,
    path: string,
    status: number,
    proto: string,
  ): void {
    const call = record.call;
    this.logger.info(
      {
        req_id: record.requestId,
        method,
        path,
        status,
        proto,
        ms: Number(process.hrtime.bigint() - record.start) / 1e6,
        ...(call === undefined
          ? {}
          : { protocol: call.protocol, rpc: call.rpc, principal: call.principal.name, code: record.code }),
      },
      "request",
    );
  }
}
