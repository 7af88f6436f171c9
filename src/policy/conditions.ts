// Rule conditions compiled into one predicate per rule. Pure: the clock is injected and read only
// when the rule has time conditions and its param conditions already hold.
import { PolicyEvaluationError } from "./errors.js";
import { quoteShort } from "./private/quote.js";
import { compileRegexSearch, type RegexSearch } from "./regex-safety.js";

export type Params = Readonly<Record<string, unknown>>;
/** True when every condition holds; throws PolicyEvaluationError when a param has the wrong type. */
export type ConditionCheck = (params: Params) => boolean;

type Check = (params: Params) => boolean;

const hasOwn = Object.prototype.hasOwnProperty;

/** The param's value, or undefined when it is missing or null (then the condition is false). */
function paramOf(params: Params, name: string): unknown {
  if (!hasOwn.call(params, name)) return undefined;
  const v = params[name];
  return v === null ? undefined : v;
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  if (typeof v === "boolean") return "a boolean";
  return typeof v;
}

/** JSON equality: numbers by value (1 == 1.0), no coercion (true != 1), arrays and objects deep. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!hasOwn.call(b, k) || !jsonEqual((a as Params)[k], (b as Params)[k])) return false;
  }
  return true;
}

const COMPARE: Record<string, (x: number | string, y: number | string) => boolean> = {
  param_gt: (x, y) => x > y,
  param_lt: (x, y) => x < y,
  param_gte: (x, y) => x >= y,
  param_lte: (x, y) => x <= y,
};

function paramCheck(
  rule: string,
  op: string,
  param: string,
  expected: unknown,
  regexOf: (source: string) => RegexSearch,
): Check {
  const fail = (message: string): never => {
    throw new PolicyEvaluationError(
      rule,
      op,
      param,
      `rule ${quoteShort(rule)}: ${op} on param ${quoteShort(param)}: ${message}`,
    );
  };
  switch (op) {
    case "param_eq":
      if (expected === null) return () => false;
      if (typeof expected !== "object") {
        return (params) => {
          const v = paramOf(params, param);
          return v !== undefined && v === expected;
        };
      }
      return (params) => {
        const v = paramOf(params, param);
        return v !== undefined && jsonEqual(v, expected);
      };
    case "param_gt":
    case "param_lt":
    case "param_gte":
    case "param_lte": {
      const cmp = COMPARE[op]!;
      const y = expected as number | string;
      if (typeof y === "number") {
        return (params) => {
          const v = paramOf(params, param);
          if (v === undefined) return false;
          if (typeof v !== "number") return fail(`compares numbers, but the action's value is ${kindOf(v)}`);
          // NaN compares false both ways (a param_gt block and a param_lte allow would both miss
          // it), and Infinity is no JSON number: never decide on them. `v - v` is 0 iff finite.
          if (v - v !== 0) return fail(`compares finite numbers, but the action's value is ${String(v)}`);
          return cmp(v, y);
        };
      }
      return (params) => {
        const v = paramOf(params, param);
        if (v === undefined) return false;
        if (typeof v !== "string") return fail(`compares strings, but the action's value is ${kindOf(v)}`);
        return cmp(v, y);
      };
    }
    case "param_contains":
      return (params) => {
        const v = paramOf(params, param);
        if (v === undefined) return false;
        if (Array.isArray(v)) {
          for (const item of v) if (jsonEqual(item, expected)) return true;
          return false;
        }
        if (typeof v === "string") {
          if (typeof expected !== "string") {
            return fail(
              `the action's value is a string, which can only contain a string, not ${kindOf(expected)}`,
            );
          }
          return v.includes(expected);
        }
        if (typeof v === "object") {
          if (typeof expected !== "string") {
            return fail(`the action's value is an object, whose keys are strings, not ${kindOf(expected)}`);
          }
          return hasOwn.call(v, expected);
        }
        return fail(`needs an array, a string or an object, but the action's value is ${kindOf(v)}`);
      };
    case "param_matches": {
      const search = regexOf(expected as string);
      return (params) => {
        const v = paramOf(params, param);
        if (v === undefined) return false;
        if (typeof v !== "string") return fail(`needs a string, but the action's value is ${kindOf(v)}`);
        return search(v);
      };
    }
  }
  throw new Error(`unreachable: operator ${op}`);
}

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(":");
  return Number(h) * 60 + Number(m);
}

/**
 * The time window and weekdays of a rule. `time_after` is inclusive, `time_before` exclusive; when
 * after > before the window wraps midnight. Weekdays are ISO (1 = Monday) of the local date.
 */
function timeCheck(conds: Params, now: () => Date): Check | undefined {
  const after = typeof conds["time_after"] === "string" ? minutesOf(conds["time_after"]) : undefined;
  const before = typeof conds["time_before"] === "string" ? minutesOf(conds["time_before"]) : undefined;
  const weekdays = Array.isArray(conds["weekdays"]) ? new Set(conds["weekdays"] as number[]) : undefined;
  if (after === undefined && before === undefined && weekdays === undefined) return undefined;
  const zone = typeof conds["timezone"] === "string" ? conds["timezone"] : undefined;
  const format =
    zone === undefined
      ? undefined
      : new Intl.DateTimeFormat("en-US", {
          timeZone: zone,
          hourCycle: "h23",
          hour: "2-digit",
          minute: "2-digit",
          weekday: "short",
        });
  const inWindow = (minute: number): boolean => {
    if (after !== undefined && before !== undefined) {
      if (after < before) return minute >= after && minute < before;
      if (after > before) return minute >= after || minute < before;
      return false; // empty window
    }
    if (after !== undefined) return minute >= after;
    if (before !== undefined) return minute < before;
    return true;
  };
  return () => {
    const date = now();
    let minute: number;
    let day: number;
    if (format === undefined) {
      minute = date.getUTCHours() * 60 + date.getUTCMinutes();
      day = date.getUTCDay() || 7;
    } else {
      let h = 0;
      let m = 0;
      day = 0;
      for (const part of format.formatToParts(date)) {
        if (part.type === "hour") h = Number(part.value);
        else if (part.type === "minute") m = Number(part.value);
        else if (part.type === "weekday") day = WEEKDAY[part.value] ?? 0;
      }
      minute = h * 60 + m;
    }
    if (weekdays !== undefined && !weekdays.has(day)) return false;
    return inWindow(minute);
  };
}

export interface CompiledConditions {
  readonly check: ConditionCheck;
}

/** Compiles a rule's (validated, normalised) conditions. */
export function compileConditions(
  rule: string,
  conds: Params,
  now: () => Date,
  regexes?: ReadonlyMap<string, RegexSearch>,
): CompiledConditions {
  const regexOf = (source: string): RegexSearch => regexes?.get(source) ?? compileRegexSearch(source);
  const checks: Check[] = [];
  for (const [op, value] of Object.entries(conds)) {
    if (!op.startsWith("param_")) continue;
    for (const [param, expected] of Object.entries(value as Params)) {
      checks.push(paramCheck(rule, op, param, expected, regexOf));
    }
  }
  const time = timeCheck(conds, now);
  if (time) checks.push(time);
  let check: ConditionCheck;
  if (checks.length === 0) check = () => true;
  else if (checks.length === 1) check = checks[0]!;
  else if (checks.length === 2) {
    const [a, b] = checks as [Check, Check];
    check = (p) => a(p) && b(p);
  } else {
    check = (p) => {
      for (const c of checks) if (!c(p)) return false;
      return true;
    };
  }
  return { check };
}
