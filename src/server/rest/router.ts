// The REST route table, derived at startup from the `google.api.http` options of the served
// services (the .proto files are the only place paths are written). Literal paths are one Map
// lookup; templates with variables (`/api/v1/agents/{agent_id}`, `.../{id}:activate`) are tried
// after that, the most specific (most literal characters) first. A variable matches one path segment (no `/`); its value is
// percent-decoded and bound to the request field of the same name.
import { type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";
import { AegisError } from "../../errors.js";

export interface RestRoute {
  readonly httpMethod: string;
  /** The template as written, normalised (no trailing slash). */
  readonly path: string;
  readonly method: DescMethod;
  /** The rule's `body`: "" (none), "*" or a field name. */
  readonly body: string;
  /** The rule's `response_body`: "" (the whole response message) or a field name. */
  readonly responseBody: string;
  /** Variable names in template order; empty for a literal path. */
  readonly vars: readonly string[];
}

/** One segment of a template: `literal`, or `prefix{var}suffix` (a custom verb is the suffix). */
type Segment =
  | { readonly literal: string }
  | { readonly prefix: string; readonly name: string; readonly suffix: string };

function bindings(rule: HttpRule): HttpRule[] {
  return [rule, ...rule.additionalBindings];
}

const VAR = /^([^{}]*)\{([a-z_][a-z0-9_]*)\}([^{}]*)$/;

function parseTemplate(method: DescMethod, path: string): Segment[] {
  return path
    .split("/")
    .slice(1)
    .map((seg) => {
      if (!seg.includes("{")) return { literal: seg };
      const m = VAR.exec(seg);
      if (!m) {
        throw new Error(
          `${method.parent.typeName}.${method.name}: unsupported path template segment ${seg} (${path})`,
        );
      }
      return { prefix: m[1] as string, name: m[2] as string, suffix: m[3] as string };
    });
}

/** Every (HTTP method, path) binding of the services' methods. */
export function routesOf(services: readonly DescService[]): RestRoute[] {
  const out: RestRoute[] = [];
  for (const service of services) {
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
        const normal = normalisePath(path);
        const vars = parseTemplate(method, normal).flatMap((s) => ("name" in s ? [s.name] : []));
        out.push({ httpMethod, path: normal, method, body: b.body, responseBody: b.responseBody, vars });
      }
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
  | {
      readonly kind: "route";
      readonly route: RestRoute;
      readonly handler: H;
      readonly head: boolean;
      /** Values of the template's variables, decoded. */
      readonly params: Readonly<Record<string, string>>;
    }
  | { readonly kind: "method_not_allowed"; readonly allow: string };

interface Entry<H> {
  readonly route: RestRoute;
  readonly handler: H;
}

interface Template<H> {
  readonly segments: Segment[];
  readonly byMethod: Map<string, Entry<H>>;
  allow: string;
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new AegisError(
      "invalid_argument",
      `invalid percent-encoding in the path: ${JSON.stringify(value)}`,
    );
  }
}

function matchSegments(
  segments: readonly Segment[],
  parts: readonly string[],
): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  let params: Record<string, string> | undefined;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as Segment;
    const part = parts[i] as string;
    if ("literal" in s) {
      if (s.literal !== part) return undefined;
      continue;
    }
    if (part.length <= s.prefix.length + s.suffix.length) return undefined;
    if (!part.startsWith(s.prefix) || !part.endsWith(s.suffix)) return undefined;
    params ??= {};
    params[s.name] = decode(part.slice(s.prefix.length, part.length - s.suffix.length));
  }
  return params ?? {};
}

function literalLength(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) n += "literal" in s ? s.literal.length : s.prefix.length + s.suffix.length;
  return n;
}

function allowOf<H>(byMethod: Map<string, Entry<H>>): string {
  const methods = [...byMethod.keys()];
  if (byMethod.has("GET") && !byMethod.has("HEAD")) methods.push("HEAD");
  return methods.join(", ");
}

export class RestRouter<H> {
  private readonly literal = new Map<string, Map<string, Entry<H>>>();
  private readonly literalAllow = new Map<string, string>();
  private readonly templates: Template<H>[] = [];

  constructor(routes: readonly RestRoute[], handlerFor: (route: RestRoute) => H) {
    const templates = new Map<string, Template<H>>();
    for (const route of routes) {
      const entry = { route, handler: handlerFor(route) };
      let byMethod: Map<string, Entry<H>>;
      if (route.vars.length === 0) {
        byMethod = this.literal.get(route.path) ?? new Map();
        this.literal.set(route.path, byMethod);
      } else {
        let t = templates.get(route.path);
        if (!t) {
          t = { segments: parseTemplate(route.method, route.path), byMethod: new Map(), allow: "" };
          templates.set(route.path, t);
          this.templates.push(t);
        }
        byMethod = t.byMethod;
      }
      if (byMethod.has(route.httpMethod))
        throw new Error(`duplicate route ${route.httpMethod} ${route.path}`);
      byMethod.set(route.httpMethod, entry);
    }
    // The most specific template first: `{id}:activate` must win over `{id}` for `7:activate`.
    this.templates.sort((a, b) => literalLength(b.segments) - literalLength(a.segments));
    for (const [path, byMethod] of this.literal) this.literalAllow.set(path, allowOf(byMethod));
    for (const t of this.templates) t.allow = allowOf(t.byMethod);
  }

  /** `undefined` when the path is not a REST path (it may still be an RPC path). */
  match(httpMethod: string, path: string): RouteMatch<H> | undefined {
    const byMethod = this.literal.get(path);
    if (byMethod) return this.pick(byMethod, httpMethod, NO_PARAMS, this.literalAllow.get(path) ?? "");
    if (this.templates.length === 0) return undefined;
    const parts = path.split("/").slice(1);
    for (const t of this.templates) {
      const params = matchSegments(t.segments, parts);
      if (params !== undefined) return this.pick(t.byMethod, httpMethod, params, t.allow);
    }
    return undefined;
  }

  private pick(
    byMethod: Map<string, Entry<H>>,
    httpMethod: string,
    params: Readonly<Record<string, string>>,
    allow: string,
  ): RouteMatch<H> {
    const hit = byMethod.get(httpMethod);
    if (hit) return { kind: "route", route: hit.route, handler: hit.handler, head: false, params };
    if (httpMethod === "HEAD") {
      const get = byMethod.get("GET");
      if (get) return { kind: "route", route: get.route, handler: get.handler, head: true, params };
    }
    return { kind: "method_not_allowed", allow };
  }
}
