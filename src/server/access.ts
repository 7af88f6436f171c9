// What each RPC needs, read once at startup from the `(aegis.v1.access)` option declared next to
// every Aegis RPC in proto/. The vendored gRPC services carry no option: health is open (a load
// balancer probes it without a key, DESIGN §3.1), reflection needs an agent key like the API.
import { type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import { Access as AccessOption, access as accessExtension } from "../../gen/aegis/v1/options_pb.js";
import type { Access } from "../identity/index.js";

const FROM_OPTION: Partial<Record<AccessOption, Access>> = {
  [AccessOption.OPEN]: "open",
  [AccessOption.AGENT]: "agent",
  [AccessOption.APPROVER]: "approver",
  [AccessOption.ADMIN]: "admin",
};

const VENDORED: Record<string, Access> = {
  "grpc.health.v1.Health": "open",
  "grpc.reflection.v1.ServerReflection": "agent",
  "grpc.reflection.v1alpha.ServerReflection": "agent",
};

/** The access level of `method`; throws (at startup) when an Aegis RPC does not declare one. */
export function accessOf(method: DescMethod): Access {
  const service = method.parent.typeName;
  if (hasOption(method, accessExtension)) {
    const level = FROM_OPTION[getOption(method, accessExtension)];
    if (level !== undefined) return level;
  }
  const vendored = VENDORED[service];
  if (vendored !== undefined) return vendored;
  throw new Error(`${service}.${method.name} declares no (aegis.v1.access) option`);
}
