// The shape check every policy passes before validation: plain JSON data only, nested at most
// MAX_POLICY_DEPTH deep, no NaN or ±Infinity. A policy object can come from anywhere (a JSON body, a
// google.protobuf.Struct over gRPC that carries NaN and Infinity, a YAML document with YAML 1.1 tags
// that yields a Map, Set, Date or Buffer), and everything after this point (validation, the view,
// the hash, GET /api/v1/policy) recurses and assumes JSON. The walk itself is iterative, so no input
// can overflow the stack here.
import { childPath } from "./private/path.js";

/** The nesting bound the server applies to JSON bodies (MAX_JSON_DEPTH), applied to policies too. */
export const MAX_POLICY_DEPTH = 100;
/**
 * Values visited, counting shared references once per path: bounds the walk over an object graph
 * that shares subtrees (YAML aliases are bounded separately, at parse time).
 */
export const MAX_POLICY_VALUES = 1_000_000;

export interface ShapeProblem {
  readonly path: string;
  readonly message: string;
}

export interface ShapeReport {
  /** Not JSON data, or too deep / too large: nothing else is checked. */
  readonly fatal: readonly ShapeProblem[];
  /** NaN / ±Infinity, each at its exact path. */
  readonly nonFinite: readonly ShapeProblem[];
}

/** Why `v` is not JSON data, or undefined when it is a JSON scalar, array or plain object. */
function notJson(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
    case "boolean":
    case "number":
    case "undefined": // an absent property; validation decides where that is acceptable
      return undefined;
    case "bigint":
      return "a bigint is not a JSON number";
    case "function":
      return "a function is not JSON data";
    case "symbol":
      return "a symbol is not JSON data";
  }
  if (v === null || Array.isArray(v)) return undefined;
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto === null || proto === Object.prototype) return undefined;
  if (v instanceof Date)
    return "a date/time is not JSON data (a YAML timestamp? quote it to keep it a string)";
  if (v instanceof Map) return "a Map is not JSON data (a YAML !!omap?)";
  if (v instanceof Set) return "a Set is not JSON data (a YAML !!set?)";
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer)
    return "binary data is not JSON data (a YAML !!binary?)";
  return "an object that is not a plain mapping is not JSON data";
}

export function checkShape(doc: unknown): ShapeReport {
  const fatal: ShapeProblem[] = [];
  const nonFinite: ShapeProblem[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: doc, path: "", depth: 0 }];
  let visited = 0;
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (++visited > MAX_POLICY_VALUES) {
      fatal.push({ path: "", message: `the policy holds more than ${MAX_POLICY_VALUES} values` });
      break;
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) {
        nonFinite.push({
          path,
          message: `${String(value)} is not a number a policy can hold (JSON has no NaN or Infinity)`,
        });
      }
      continue;
    }
    const why = notJson(value);
    if (why !== undefined) {
      fatal.push({ path, message: why });
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth >= MAX_POLICY_DEPTH) {
      fatal.push({ path, message: `the policy is nested more than ${MAX_POLICY_DEPTH} levels deep` });
      continue;
    }
    // Pushed in reverse so that problems come out in document order.
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], path: childPath(path, i), depth: depth + 1 });
      }
    } else {
      const keys = Object.keys(value);
      for (let k = keys.length - 1; k >= 0; k--) {
        const key = keys[k]!;
        stack.push({
          value: (value as Record<string, unknown>)[key],
          path: childPath(path, key),
          depth: depth + 1,
        });
      }
    }
  }
  return { fatal, nonFinite };
}
