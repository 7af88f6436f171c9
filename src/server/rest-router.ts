// The REST route table, derived at startup from the `google.api.http` options of the generated
// service descriptor (the .proto files are the only place paths are written). Matching is an
// exact Map lookup on the normalised path: the API has no path variables, and a template with
// one fails loudly at startup instead of silently never matching.
import { type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { http } from "../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../gen/google/api/http_pb.js";
import { type Access, accessOf } from "./auth.js";

export interface RestRoute {
  readonly httpMethod: string;
  readonly path: string;
  readonly method: DescMethod;
  /** The rule's `body`: "" (none), "*" or a field name. */
  readonly body: string;
  readonly access: Access;
}

function bindings(rule: HttpRule): HttpRule[] {
  return [rule, ...rule.additionalBindings];
}

/** Every (HTTP method, path) binding of `service`'s methods. */
export function routesOf(service: DescService): RestRoute[] {
  const out: RestRoute[] = [];
  for (const method of service.methods) {
    if (!hasOption(method, http)) continue;
    for (const b of bindings(getOption(method, http))) {
      const p = b.pattern;
      let httpMethod: string;
      let path: string;
      if (p.case === "custom") {
        httpMethod = p.value.kind.toUpperCase();
        path = p.value.path;
      } else if (p.case === undefined) {
        continue;
      } else {
        httpMethod = p.case.toUpperCase();
        path = p.value;
      }
      if (path.includes("{")) {
        throw new Error(
          `${method.parent.typeName}.${method.name}: path variables are not supported (${path})`,
        );
      }
      out.push({
        httpMethod,
        path: normalisePath(path),
        method,
        body: b.body,
        access: accessOf(service.typeName, method.name),
      });
    }
  }
  return out;
}

/** Trailing slashes name the same route. */
export function normalisePath(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === path.length ? path : path.slice(0, end);
}

export type RouteMatch<H> =
  | { readonly kind: "route"; readonly route: RestRoute; readonly handler: H; readonly head: boolean }
  | { readonly kind: "method_not_allowed"; readonly allow: string };

export class RestRouter<H> {
  private readonly table = new Map<string, Map<string, { route: RestRoute; handler: H }>>();
  private readonly allow = new Map<string, string>();

  /** `handlers` maps each method's local name (e.g. `evaluate`) to its REST handler. */
  constructor(routes: readonly RestRoute[], handlers: Readonly<Record<string, H>>) {
    for (const route of routes) {
      const handler = handlers[route.method.localName];
      if (handler === undefined) throw new Error(`no REST handler for ${route.method.name}`);
      let byMethod = this.table.get(route.path);
      if (!byMethod) {
        byMethod = new Map();
        this.table.set(route.path, byMethod);
      }
      if (byMethod.has(route.httpMethod))
        throw new Error(`duplicate route ${route.httpMethod} ${route.path}`);
      byMethod.set(route.httpMethod, { route, handler });
    }
    for (const [path, byMethod] of this.table) {
      const methods = [...byMethod.keys()];
      if (byMethod.has("GET") && !byMethod.has("HEAD")) methods.push("HEAD");
      this.allow.set(path, methods.join(", "));
    }
  }

  get paths(): string[] {
    return [...this.table.keys()];
  }

  /** `undefined` when the path is not a REST path (it may still be an RPC path). */
  match(httpMethod: string, path: string): RouteMatch<H> | undefined {
    const byMethod = this.table.get(path);
    if (!byMethod) return undefined;
    const hit = byMethod.get(httpMethod);
    if (hit) return { kind: "route", route: hit.route, handler: hit.handler, head: false };
    if (httpMethod === "HEAD") {
      const get = byMethod.get("GET");
      if (get) return { kind: "route", route: get.route, handler: get.handler, head: true };
    }
    return { kind: "method_not_allowed", allow: this.allow.get(path) ?? "" };
  }
}
