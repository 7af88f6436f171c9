// gRPC server reflection, v1 and v1alpha (same messages, two package names), so buf curl, grpcurl
// and Postman can call the API without .proto files. The answers come from the descriptors
// embedded in the generated code: the served files and, transitively, everything they import.
import { create, type DescFile, type DescMessage, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  type ServerReflectionRequest as RequestV1,
  ServerReflectionResponseSchema as ResponseV1,
  ServerReflection as ServerReflectionV1,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  type ServerReflectionRequest as RequestV1alpha,
  ServerReflectionResponseSchema as ResponseV1alpha,
  ServerReflection as ServerReflectionV1alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { type ServedService, serve } from "./services/service-impl.js";

/** Looks up files by name and by the symbols they declare. */
export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly encoded = new Map<string, Uint8Array>();
  readonly serviceNames: string[];

  constructor(services: readonly DescService[]) {
    this.serviceNames = services.map((s) => s.typeName);
    for (const s of services) this.addFile(s.file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.name)) return;
    this.files.set(file.name, file);
    for (const dep of file.dependencies) this.addFile(dep);
    for (const e of file.enums) this.symbols.set(e.typeName, file);
    for (const m of file.messages) this.addMessage(m, file);
    for (const x of file.extensions) this.symbols.set(x.typeName, file);
    for (const s of file.services) {
      this.symbols.set(s.typeName, file);
      for (const m of s.methods) this.symbols.set(`${s.typeName}.${m.name}`, file);
    }
  }

  private addMessage(m: DescMessage, file: DescFile): void {
    this.symbols.set(m.typeName, file);
    for (const n of m.nestedMessages) this.addMessage(n, file);
    for (const e of m.nestedEnums) this.symbols.set(e.typeName, file);
    for (const x of m.nestedExtensions) this.symbols.set(x.typeName, file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileBySymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.replace(/^\./, ""));
  }

  /** The file and its transitive dependencies, the file first (what reflection clients expect). */
  encodeWithDeps(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(this.encode(f));
      for (const d of f.dependencies) visit(d);
    };
    visit(file);
    return out;
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file.name, bytes);
    }
    return bytes;
  }
}

type AnyRequest = RequestV1 | RequestV1alpha;

/** The response as a plain init object, shared by both versions (their fields are identical). */
function answer(index: DescriptorIndex, req: AnyRequest) {
  const r = req.messageRequest;
  const notFound = (what: string) => ({
    case: "errorResponse" as const,
    value: { errorCode: 5, errorMessage: `${what} not found` },
  });
  switch (r.case) {
    case "listServices":
      return {
        case: "listServicesResponse" as const,
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename": {
      const f = index.fileByName(r.value);
      return f
        ? { case: "fileDescriptorResponse" as const, value: { fileDescriptorProto: index.encodeWithDeps(f) } }
        : notFound(`file ${r.value}`);
    }
    case "fileContainingSymbol": {
      const f = index.fileBySymbol(r.value);
      return f
        ? { case: "fileDescriptorResponse" as const, value: { fileDescriptorProto: index.encodeWithDeps(f) } }
        : notFound(`symbol ${r.value}`);
    }
    case "fileContainingExtension":
      return notFound(`extension ${r.value.containingType}/${r.value.extensionNumber}`);
    case "allExtensionNumbersOfType":
      return index.fileBySymbol(r.value)
        ? {
            case: "allExtensionNumbersResponse" as const,
            value: { baseTypeName: r.value, extensionNumber: [] },
          }
        : notFound(`type ${r.value}`);
    default:
      return {
        case: "errorResponse" as const,
        value: { errorCode: 3, errorMessage: "empty reflection request" },
      };
  }
}

/** grpc.reflection v1 and v1alpha for `services` (reflection itself is added). */
export function reflectionServices(services: readonly DescService[]): ServedService[] {
  const index = new DescriptorIndex([...services, ServerReflectionV1, ServerReflectionV1alpha]);
  return [
    serve(ServerReflectionV1, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(ResponseV1, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(index, req),
          });
        }
      },
    }),
    serve(ServerReflectionV1alpha, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(ResponseV1alpha, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(index, req),
          });
        }
      },
    }),
  ];
}
