// Validation and normalisation: a plain value (from YAML or a PUT body) -> a PolicySpec, or every
// problem found, each with its path and (for YAML) the line and column of the offending key/value.
import { checkGlob } from "./glob.js";
import { checkShape } from "./plain-data.js";
import { childPath, parentPath } from "./private/path.js";
import { defineOwn, plainCopy } from "./private/plain-copy.js";
import { quoteShort } from "./private/quote.js";
import { didYouMean } from "./private/suggest.js";
import { compileRegex, RegexBudget, type RegexSearch } from "./regex-safety.js";
import type { Approval, PolicyProblem, RiskLevel } from "./types.js";
import type { Locator } from "./yaml-source.js";

export interface RuleSpec {
  readonly index: number;
  readonly name: string;
  /** Glob for the action type ("*" when not written). */
  readonly type: string;
  /** Globs as written; null when not written (then they match everything). */
  readonly target: string | null;
  readonly agent: string | null;
  /** Normalised conditions in written order; null when the rule has none. */
  readonly conditions: Readonly<Record<string, unknown>> | null;
  readonly risk_level: RiskLevel;
  readonly approval: Approval;
}

export interface PolicySpec {
  readonly default_risk_level: RiskLevel;
  readonly default_approval: Approval;
  readonly rules: readonly RuleSpec[];
}

export interface ValidationResult {
  /** Present when there are no problems. */
  readonly spec: PolicySpec | undefined;
  readonly problems: readonly PolicyProblem[];
  readonly warnings: readonly PolicyProblem[];
  /** The `param_matches` regexes, compiled while checking them (compiling is the check). */
  readonly regexes: ReadonlyMap<string, RegexSearch>;
}

export const RISK_LEVELS: readonly RiskLevel[] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];
export const APPROVALS: readonly Approval[] = ["auto", "approve", "block"];
export const PARAM_OPERATORS = [
  "param_eq",
  "param_gt",
  "param_lt",
  "param_gte",
  "param_lte",
  "param_contains",
  "param_matches",
] as const;
export const TIME_KEYS = ["time_after", "time_before", "weekdays", "timezone"] as const;
export const CONDITION_KEYS: readonly string[] = [...PARAM_OPERATORS, ...TIME_KEYS];
const TOP_KEYS = ["version", "defaults", "rules"];
const DEFAULTS_KEYS = ["risk_level", "approval"];
const RULE_KEYS = ["name", "match", "conditions", "risk_level", "approval"];
const MATCH_KEYS = ["type", "target", "agent"];
/** Features of the original Aegis this server does not implement (a Map: keys are user input). */
const UNSUPPORTED = new Map<string, string>([
  ["scope", "`scope` (the original Aegis' rule scoping) is not supported by this server"],
  ["plan_rules", "`plan_rules` (the original Aegis' multi-step plan rules) are not supported by this server"],
  ["semantic", "`semantic` (the original Aegis' semantic/LLM matching) is not supported by this server"],
]);

export const DEFAULT_RULE_NAME = "<default>";

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An own property (the fixed key names of the language are never inherited). */
function own(obj: Mapping, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** How a value is named in a message: user text is quoted and escaped, never printed raw. */
function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${quoteShort(v)}`;
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${String(v)}`;
  return `a ${typeof v}`;
}

const TIME_RE = /^([01]?\d|2[0-3]):([0-5]\d)$/;

export function validatePolicy(doc: unknown, locate?: Locator): ValidationResult {
  const problems: PolicyProblem[] = [];
  const warnings: PolicyProblem[] = [];
  const regexes = new Map<string, RegexSearch>();
  const regexBudget = new RegexBudget();
  const at = (list: PolicyProblem[], path: string, part: "key" | "value", message: string): void => {
    const pos = locate?.(path, part);
    list.push(pos ? { path, message, line: pos.line, column: pos.column } : { path, message });
  };
  const error = (path: string, message: string, part: "key" | "value" = "value"): void =>
    at(problems, path, part, message);
  const warn = (path: string, message: string, part: "key" | "value" = "value"): void =>
    at(warnings, path, part, message);

  /** Reports keys outside `allowed`; returns nothing. */
  const checkKeys = (obj: Mapping, path: string, allowed: readonly string[], what: string): void => {
    for (const key of Object.keys(obj)) {
      if (allowed.includes(key)) continue;
      const p = childPath(path, key);
      const unsupported = UNSUPPORTED.get(key);
      if (unsupported !== undefined) error(p, unsupported, "key");
      else error(p, `unknown key ${quoteShort(key)} in ${what}${didYouMean(key, allowed)}`, "key");
    }
  };

  const riskOf = (v: unknown, path: string, fallback: RiskLevel): RiskLevel => {
    if (v === undefined) return fallback;
    if (typeof v === "string") {
      const up = v.toUpperCase() as RiskLevel;
      if (RISK_LEVELS.includes(up)) return up;
    }
    error(path, `risk_level must be one of low, medium, high, critical (any case), got ${typeName(v)}`);
    return fallback;
  };
  const approvalOf = (v: unknown, path: string, fallback: Approval): Approval => {
    if (v === undefined) return fallback;
    if (typeof v === "string" && (APPROVALS as readonly string[]).includes(v)) return v as Approval;
    const hint = typeof v === "string" ? didYouMean(v, APPROVALS) : "";
    error(path, `approval must be exactly one of auto, approve, block, got ${typeName(v)}${hint}`);
    return fallback;
  };

  if (doc === null || doc === undefined) {
    return {
      spec: { default_risk_level: "MEDIUM", default_approval: "block", rules: [] },
      problems,
      warnings,
      regexes,
    };
  }
  // Everything below may recurse and assumes JSON data: not JSON, or too deep, stops here.
  const shape = checkShape(doc);
  if (shape.fatal.length > 0) {
    for (const p of [...shape.fatal, ...shape.nonFinite]) error(p.path, p.message);
    return { spec: undefined, problems: sortProblems(problems), warnings, regexes };
  }
  if (!isMapping(doc)) {
    error("", `a policy must be a mapping with version, defaults and rules, got ${typeName(doc)}`);
    return { spec: undefined, problems, warnings, regexes };
  }
  checkKeys(doc, "", TOP_KEYS, "the policy");

  const version = own(doc, "version");
  if (version !== undefined && version !== "1" && version !== 1) {
    error("version", `version must be "1", got ${typeName(version)}`);
  }

  let defaultRisk: RiskLevel = "MEDIUM";
  let defaultApproval: Approval = "block";
  const defaults = own(doc, "defaults");
  if (defaults !== undefined && defaults !== null) {
    if (!isMapping(defaults)) {
      error("defaults", `defaults must be a mapping with risk_level and approval, got ${typeName(defaults)}`);
    } else {
      checkKeys(defaults, "defaults", DEFAULTS_KEYS, "defaults");
      defaultRisk = riskOf(own(defaults, "risk_level"), "defaults.risk_level", "MEDIUM");
      defaultApproval = approvalOf(own(defaults, "approval"), "defaults.approval", "block");
    }
  }

  const rules: RuleSpec[] = [];
  const rawRules = own(doc, "rules");
  if (rawRules !== undefined && rawRules !== null && !Array.isArray(rawRules)) {
    error("rules", `rules must be a list, got ${typeName(rawRules)}`);
  } else if (Array.isArray(rawRules)) {
    const seen = new Map<string, number>();
    rawRules.forEach((raw: unknown, index) => {
      const path = childPath("rules", index);
      const rule = validateRule(raw, index, path);
      if (!rule) return;
      const first = seen.get(rule.name);
      if (first !== undefined) {
        error(
          raw !== null && isMapping(raw) && own(raw, "name") !== undefined ? childPath(path, "name") : path,
          `duplicate rule name ${quoteShort(rule.name)} (rules[${first}] has it too)`,
        );
      } else {
        seen.set(rule.name, index);
      }
      rules.push(rule);
    });
  }

  function validateRule(raw: unknown, index: number, path: string): RuleSpec | undefined {
    if (!isMapping(raw)) {
      error(
        path,
        `a rule must be a mapping (name, match, conditions, risk_level, approval), got ${typeName(raw)}`,
      );
      return undefined;
    }
    checkKeys(raw, path, RULE_KEYS, "a rule");
    let name = `rule_${index}`;
    const rawName = own(raw, "name");
    if (rawName !== undefined) {
      if (typeof rawName !== "string" || rawName.trim() === "") {
        error(childPath(path, "name"), `name must be a non-empty string, got ${typeName(rawName)}`);
      } else if (rawName === DEFAULT_RULE_NAME) {
        error(childPath(path, "name"), `"${DEFAULT_RULE_NAME}" is reserved for the policy defaults`);
      } else {
        name = rawName;
      }
    }
    let type = "*";
    let target: string | null = null;
    let agent: string | null = null;
    const match = own(raw, "match");
    const mpath = childPath(path, "match");
    if (match !== undefined && match !== null) {
      if (!isMapping(match)) {
        error(mpath, `match must be a mapping with type, target and agent globs, got ${typeName(match)}`);
      } else {
        checkKeys(match, mpath, MATCH_KEYS, "match");
        const glob = (key: string): string | null => {
          const v = own(match, key);
          if (v === undefined) return null;
          if (typeof v !== "string") {
            error(childPath(mpath, key), `match.${key} must be a glob string, got ${typeName(v)} (quote it)`);
            return null;
          }
          const why = checkGlob(v);
          if (why !== undefined) {
            error(childPath(mpath, key), `match.${key}: ${why}`);
            return null;
          }
          return v;
        };
        type = glob("type") ?? "*";
        target = glob("target");
        agent = glob("agent");
      }
    }
    const conditions = validateConditions(own(raw, "conditions"), childPath(path, "conditions"));
    return {
      index,
      name,
      type,
      target,
      agent,
      conditions,
      risk_level: riskOf(own(raw, "risk_level"), childPath(path, "risk_level"), "MEDIUM"),
      approval: approvalOf(own(raw, "approval"), childPath(path, "approval"), "approve"),
    };
  }

  function validateConditions(raw: unknown, path: string): Mapping | null {
    if (raw === undefined || raw === null) return null;
    if (!isMapping(raw)) {
      error(path, `conditions must be a mapping of operators, got ${typeName(raw)}`);
      return null;
    }
    const out: Mapping = {};
    for (const [op, value] of Object.entries(raw)) {
      const p = childPath(path, op);
      if (!CONDITION_KEYS.includes(op)) {
        const unsupported = UNSUPPORTED.get(op);
        if (unsupported !== undefined) error(p, unsupported, "key");
        else error(p, `unknown condition operator ${quoteShort(op)}${didYouMean(op, CONDITION_KEYS)}`, "key");
        continue;
      }
      const normalised = validateOperator(op, value, p);
      if (normalised !== undefined) out[op] = normalised;
    }
    const after = out["time_after"];
    const before = out["time_before"];
    if (typeof after === "string" && after === before) {
      warn(
        childPath(path, "time_before"),
        `time_after and time_before are both ${after}: the window is empty and the rule never matches`,
      );
    }
    if (out["timezone"] !== undefined && after === undefined && before === undefined && !out["weekdays"]) {
      warn(childPath(path, "timezone"), "timezone has no effect without time_after, time_before or weekdays");
    }
    if (Object.keys(raw).length === 0) return null;
    return out;
  }

  function validateOperator(op: string, value: unknown, path: string): unknown {
    if (op.startsWith("param_")) {
      if (!isMapping(value)) {
        error(
          path,
          `${op} must be a mapping of param name to value, e.g. {total: 500}, got ${typeName(value)}`,
        );
        return undefined;
      }
      if (Object.keys(value).length === 0) warn(path, `${op} lists no params`);
      // Param names are user keys ("__proto__" included): copied by definition, not assignment.
      const normalised: Mapping = {};
      for (const [param, v] of Object.entries(value)) {
        defineOwn(normalised, param, plainCopy(v));
        const p = childPath(path, param);
        switch (op) {
          case "param_eq":
            if (!isJson(v)) error(p, `param_eq needs a JSON value, got ${typeName(v)}`);
            else if (v === null)
              warn(p, "param_eq with null never matches: a missing or null param makes a condition false");
            break;
          case "param_gt":
          case "param_lt":
          case "param_gte":
          case "param_lte":
            if (!((typeof v === "number" && Number.isFinite(v)) || typeof v === "string")) {
              error(p, `${op} compares with a number or a string, got ${typeName(v)}`);
            }
            break;
          case "param_contains":
            if (!isJson(v)) error(p, `param_contains needs a JSON value, got ${typeName(v)}`);
            break;
          case "param_matches": {
            if (typeof v !== "string") {
              error(p, `param_matches needs a regex string, got ${typeName(v)}`);
              break;
            }
            if (regexes.has(v)) break;
            const compiled = compileRegex(v, regexBudget);
            if ("problem" in compiled) error(p, compiled.problem);
            else regexes.set(v, compiled.search);
            break;
          }
        }
      }
      return normalised;
    }
    switch (op) {
      case "time_after":
      case "time_before": {
        const m = typeof value === "string" ? TIME_RE.exec(value) : null;
        if (!m) {
          const hint = typeof value === "number" ? ' (quote it: "HH:MM")' : "";
          error(path, `${op} must be a time "HH:MM" (00:00 to 23:59), got ${typeName(value)}${hint}`);
          return undefined;
        }
        return `${m[1]!.padStart(2, "0")}:${m[2]}`;
      }
      case "weekdays": {
        if (!Array.isArray(value)) {
          error(
            path,
            `weekdays must be a list of ISO weekdays 1 (Monday) to 7 (Sunday), got ${typeName(value)}`,
          );
          return undefined;
        }
        let ok = true;
        value.forEach((d: unknown, i) => {
          if (typeof d !== "number" || !Number.isInteger(d) || d < 1 || d > 7) {
            error(childPath(path, i), `a weekday is an integer 1 (Monday) to 7 (Sunday), got ${typeName(d)}`);
            ok = false;
          }
        });
        if (!ok) return undefined;
        if (value.length === 0) warn(path, "weekdays is empty: the rule never matches");
        return [...new Set(value as number[])].sort((a, b) => a - b);
      }
      case "timezone": {
        if (typeof value !== "string" || !isTimeZone(value)) {
          error(
            path,
            `timezone must be an IANA time zone such as "Europe/Paris" or "UTC", got ${typeName(value)}`,
          );
          return undefined;
        }
        return value;
      }
    }
    return undefined;
  }

  // NaN / ±Infinity, at their exact paths, unless a problem there (or above) already covers them.
  const reported = new Set(problems.map((p) => p.path));
  const covered = (path: string | undefined): boolean =>
    path !== undefined && (reported.has(path) || covered(parentPath(path)));
  for (const p of shape.nonFinite) if (!covered(p.path)) error(p.path, p.message);

  if (problems.length > 0) return { spec: undefined, problems: sortProblems(problems), warnings, regexes };
  return {
    spec: { default_risk_level: defaultRisk, default_approval: defaultApproval, rules },
    problems,
    warnings: sortProblems(warnings),
    regexes,
  };
}

/** JSON data (the shape check has ruled out everything else but `undefined`, and reports NaN). */
function isJson(v: unknown): boolean {
  if (v === undefined) return false;
  if (Array.isArray(v)) return v.every(isJson);
  if (isMapping(v)) return Object.values(v).every(isJson);
  return true;
}

const zoneCache = new Map<string, boolean>();
export function isTimeZone(zone: string): boolean {
  let ok = zoneCache.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      ok = zone.length > 0;
    } catch {
      ok = false;
    }
    zoneCache.set(zone, ok);
  }
  return ok;
}

/** Document order when positions are known; stable otherwise. */
function sortProblems(list: PolicyProblem[]): PolicyProblem[] {
  return list
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const la = a.p.line ?? Number.MAX_SAFE_INTEGER;
      const lb = b.p.line ?? Number.MAX_SAFE_INTEGER;
      if (la !== lb) return la - lb;
      const ca = a.p.column ?? 0;
      const cb = b.p.column ?? 0;
      return ca !== cb ? ca - cb : a.i - b.i;
    })
    .map((x) => x.p);
}
