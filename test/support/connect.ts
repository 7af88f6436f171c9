// Connect-Node client transports against one server URL: Connect over HTTP/1.1 and HTTP/2 (JSON and
// binary), gRPC-Web over HTTP/1.1, and gRPC over HTTP/2.
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  type Http2SessionManager,
} from "@connectrpc/connect-node";

export { Code, ConnectError };

export interface NamedTransport {
  readonly name: string;
  readonly transport: Transport;
}

export interface TransportOptions {
  /** Passed to node:http(s)/http2 (e.g. `{ ca }` for TLS). */
  readonly nodeOptions?: Record<string, unknown>;
  readonly sessionManager?: Http2SessionManager;
}

export function connectTransports(baseUrl: string, options: TransportOptions = {}): NamedTransport[] {
  // biome-ignore lint/suspicious/noExplicitAny: nodeOptions differs per HTTP version; both accept these keys.
  const nodeOptions = options.nodeOptions as any;
  const h1 = nodeOptions ? { nodeOptions } : {};
  const h2 = nodeOptions ? { nodeOptions } : {};
  return [
    {
      name: "Connect JSON over HTTP/1.1",
      transport: createConnectTransport({ baseUrl, httpVersion: "1.1", ...h1 }),
    },
    {
      name: "Connect binary over HTTP/1.1",
      transport: createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, ...h1 }),
    },
    {
      name: "Connect JSON over HTTP/2",
      transport: createConnectTransport({ baseUrl, httpVersion: "2", ...h2 }),
    },
    {
      name: "gRPC-Web over HTTP/1.1",
      transport: createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, ...h1 }),
    },
    { name: "gRPC over HTTP/2", transport: createGrpcTransport({ baseUrl, ...h2 }) },
  ];
}

/** The Connect code of a rejected call, or "resolved". */
export async function connectCode(p: Promise<unknown>): Promise<Code | "resolved"> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

export function codeName(code: Code | "resolved"): string {
  return code === "resolved" ? "resolved" : Code[code];
}
