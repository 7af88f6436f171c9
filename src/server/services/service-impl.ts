// One implementation object per service, in a signature of our own: each method takes the request
// message and the Call (principal, request id, signal) the call pipeline made. Every transport
// serves the same object: Connect-Node through an adapter (connect/register.ts), the unary gRPC
// fast path and the generic REST path by calling it directly. A new RPC is one proto method and
// one function here.
import type {
  DescMessage,
  DescMethod,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { Access } from "../../identity/index.js";
import { accessOf } from "../access.js";
import type { Call } from "../call.js";

export type UnaryImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  call: Call,
) => MessageInitShape<O> | Promise<MessageInitShape<O>>;
export type ServerStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  call: Call,
) => AsyncIterable<MessageInitShape<O>>;
export type ClientStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  call: Call,
) => Promise<MessageInitShape<O>>;
export type BiDiStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  call: Call,
) => AsyncIterable<MessageInitShape<O>>;

export type MethodImpl<M extends DescMethod> =
  M extends DescMethodUnary<infer I, infer O>
    ? UnaryImpl<I, O>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingImpl<I, O>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingImpl<I, O>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? BiDiStreamingImpl<I, O>
          : never;

export type ServiceImpl<S extends DescService> = { [P in keyof S["method"]]: MethodImpl<S["method"][P]> };

/** A service with its implementation and, per method, what a call needs. */
export interface ServedService {
  readonly desc: DescService;
  readonly impl: Readonly<Record<string, (...args: never[]) => unknown>>;
}

/** One method as the transports look it up. */
export interface ServedMethod {
  readonly method: DescMethod;
  /** `aegis.v1.GovernanceService/Evaluate` */
  readonly rpc: string;
  readonly access: Access;
  readonly impl: (...args: never[]) => unknown;
}

export function serve<S extends DescService>(desc: S, impl: ServiceImpl<S>): ServedService {
  return { desc, impl: impl as unknown as ServedService["impl"] };
}

/** Every method of `services` by request path (`/aegis.v1.GovernanceService/Evaluate`). */
export function methodsByPath(services: readonly ServedService[]): Map<string, ServedMethod> {
  const out = new Map<string, ServedMethod>();
  for (const s of services) {
    for (const method of s.desc.methods) {
      const impl = s.impl[method.localName];
      if (impl === undefined) throw new Error(`${s.desc.typeName}.${method.name} has no implementation`);
      const rpc = `${s.desc.typeName}/${method.name}`;
      out.set(`/${rpc}`, { method, rpc, access: accessOf(method), impl });
    }
  }
  return out;
}
