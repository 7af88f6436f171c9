// CORS, off unless AEGIS_CORS_ORIGINS lists origins. Preflights are answered here for every
// protocol (REST, Connect, gRPC-Web), so the allowed headers include the Connect and gRPC-Web ones.
import type { OutgoingHttpHeaders } from "node:http";

const ALLOW_METHODS = "GET, HEAD, POST, PUT, OPTIONS";
const ALLOW_HEADERS = [
  "content-type",
  "authorization",
  "x-api-key",
  "x-request-id",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "grpc-timeout",
  "x-grpc-web",
  "x-user-agent",
].join(", ");
const EXPOSE_HEADERS =
  "grpc-status, grpc-message, grpc-status-details-bin, x-request-id, retry-after, link, x-next-after-id, x-page-truncated";

export class Cors {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.any = origins.includes("*");
    this.origins = new Set(origins);
  }

  get enabled(): boolean {
    return this.any || this.origins.size > 0;
  }

  /** Headers for a response to `origin`, or undefined when it is not allowed. */
  headersFor(origin: string | undefined): OutgoingHttpHeaders | undefined {
    if (origin === undefined || !(this.any || this.origins.has(origin))) return undefined;
    return {
      "access-control-allow-origin": this.any ? "*" : origin,
      "access-control-expose-headers": EXPOSE_HEADERS,
      vary: "Origin",
    };
  }

  preflightHeaders(origin: string | undefined): OutgoingHttpHeaders | undefined {
    const base = this.headersFor(origin);
    if (!base) return undefined;
    return {
      ...base,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "7200",
    };
  }
}
