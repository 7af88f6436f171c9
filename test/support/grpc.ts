// @grpc/grpc-js calls with protobuf-es (de)serialisation: no .proto loading, the generated
// descriptors give the method path and the message codecs.
import {
  type DescMessage,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

export { grpc };

/** `/package.Service/Method`, the gRPC path of a generated method descriptor. */
export function methodPath(method: { parent: { typeName: string }; name: string }): string {
  return `/${method.parent.typeName}/${method.name}`;
}

export function metadataOf(headers: Readonly<Record<string, string>> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return md;
}

/** A plain grpc-js client for `authority` (`host:port`), insecure unless credentials are given. */
export function grpcClient(
  authority: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ClientOptions = {},
): grpc.Client {
  return new grpc.Client(authority, credentials, options);
}

/** A unary call; rejects with the grpc-js ServiceError (its `code` is a grpc.status). */
export function unary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageShape<I>,
  headers: Readonly<Record<string, string>> = {},
  deadlineMs = 10_000,
): Promise<MessageShape<O>> {
  return unaryRaw(client, methodPath(method), toBinary(method.input, request), headers, deadlineMs).then(
    (bytes) => fromBinary(method.output, bytes),
  );
}

/** A unary call with raw request bytes; resolves with the raw response bytes. */
export function unaryRaw(
  client: grpc.Client,
  path: string,
  request: Uint8Array,
  headers: Readonly<Record<string, string>> = {},
  deadlineMs = 10_000,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<Uint8Array, Uint8Array>(
      path,
      (b) => Buffer.from(b),
      (b) => new Uint8Array(b),
      request,
      metadataOf(headers),
      { deadline: Date.now() + deadlineMs },
      (err, value) => {
        if (err) reject(err);
        else if (value === undefined) reject(new Error("no response message"));
        else resolve(value);
      },
    );
  });
}

/** Starts a server-streaming call and hands every message to `onMessage`; returns the call to cancel. */
export function serverStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodServerStreaming<I, O>,
  request: MessageShape<I>,
  onMessage: (msg: MessageShape<O>) => void,
  headers: Readonly<Record<string, string>> = {},
): grpc.ClientReadableStream<Uint8Array> {
  const call = client.makeServerStreamRequest<Uint8Array, Uint8Array>(
    methodPath(method),
    (b) => Buffer.from(b),
    (b) => new Uint8Array(b),
    toBinary(method.input, request),
    metadataOf(headers),
    {},
  );
  call.on("data", (b: Uint8Array) => onMessage(fromBinary(method.output, b)));
  return call;
}

/** Asserts-friendly: the grpc status code of a rejected call (or "resolved" when it did not fail). */
export async function grpcCode(p: Promise<unknown>): Promise<number | "resolved"> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "number") throw err;
    return code;
  }
}
