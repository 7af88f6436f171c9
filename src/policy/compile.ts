// A validated PolicySpec -> an immutable Policy: globs compiled once, conditions compiled once,
// one frozen Decision per rule (evaluation allocates nothing), and for larger policies an index
// of the rules by the literal prefix / suffix of their type pattern that keeps first-match order.
import { createHash } from "node:crypto";
import { type CompiledConditions, compileConditions } from "./conditions.js";
import { compileGlob, type Glob } from "./glob.js";
import { canonicalJson } from "./private/canonical-json.js";
import type {
  Action,
  CompileOptions,
  Decision,
  Policy,
  PolicyProblem,
  PolicyView,
  RuleView,
} from "./types.js";
import { DEFAULT_RULE_NAME, type PolicySpec, type RuleSpec } from "./validate.js";

/** Policies with more rules than this are indexed (below it a straight loop is faster). */
const INDEX_THRESHOLD = 12;

interface CompiledRule {
  readonly index: number;
  readonly type: Glob;
  /** Undefined when the pattern matches everything. */
  readonly target: ((s: string) => boolean) | undefined;
  readonly agent: ((s: string) => boolean) | undefined;
  readonly conditions: CompiledConditions["check"] | undefined;
  readonly decision: Decision;
}

function decisionOf(
  name: string,
  riskLevel: Decision["riskLevel"],
  approval: Decision["approval"],
): Decision {
  return Object.freeze({ riskLevel, approval, isAllowed: approval !== "block", matchedRule: name });
}

function compileRule(spec: RuleSpec, now: () => Date): CompiledRule {
  const target = spec.target === null ? undefined : compileGlob(spec.target);
  const agent = spec.agent === null ? undefined : compileGlob(spec.agent);
  return {
    index: spec.index,
    type: compileGlob(spec.type),
    target: target && !target.matchesAll ? target.test : undefined,
    agent: agent && !agent.matchesAll ? agent.test : undefined,
    conditions: spec.conditions ? compileConditions(spec.name, spec.conditions, now).check : undefined,
    decision: decisionOf(spec.name, spec.risk_level, spec.approval),
  };
}

/** Everything but the type pattern (which the index may already have proven). */
function matchesRest(rule: CompiledRule, action: Action): boolean {
  if (rule.target !== undefined && !rule.target(action.target ?? "")) return false;
  if (rule.agent !== undefined) {
    const id = action.agentId;
    if (id === undefined || !rule.agent(id)) return false;
  }
  return rule.conditions === undefined || rule.conditions(action.params ?? NO_PARAMS);
}

const NO_PARAMS: Readonly<Record<string, unknown>> = Object.freeze({});

type Evaluate = (action: Action) => Decision;

function linearEvaluator(rules: readonly CompiledRule[], fallback: Decision): Evaluate {
  return (action) => {
    const type = action.actionType;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.type.test(type) && matchesRest(rule, action)) return rule.decision;
    }
    return fallback;
  };
}

/** Rule indices (ascending) grouped by a literal key, one map per key length. */
class LiteralIndex {
  private readonly byLength = new Map<number, Map<string, number[]>>();
  lengths: number[] = [];

  add(key: string, rule: number): void {
    let map = this.byLength.get(key.length);
    if (!map) {
      map = new Map();
      this.byLength.set(key.length, map);
    }
    const list = map.get(key);
    if (list) list.push(rule);
    else map.set(key, [rule]);
  }

  seal(): void {
    this.lengths = [...this.byLength.keys()].sort((a, b) => a - b);
  }

  get(length: number, key: string): number[] | undefined {
    return this.byLength.get(length)!.get(key);
  }
}

/**
 * First match over an index. A rule can only match when its type pattern's literal prefix (or, for
 * patterns that start with a wildcard, its literal suffix) is a prefix (suffix) of the action type,
 * so only the lists under those keys are scanned. The winner is the smallest matching rule index
 * over all lists, which is exactly the first match of a top-to-bottom scan. A rule whose
 * conditions throw counts as "matched" at its position: the error surfaces only when no earlier
 * rule matches, as in the top-to-bottom scan.
 */
function indexedEvaluator(rules: readonly CompiledRule[], fallback: Decision): Evaluate {
  const exact = new Map<string, number[]>();
  const prefixes = new LiteralIndex();
  const suffixes = new LiteralIndex();
  const always: number[] = [];
  /** The index lookup proves the type pattern for these rules. */
  const proven: boolean[] = [];
  for (const rule of rules) {
    const g = rule.type;
    proven[rule.index] = g.shape !== "other";
    if (g.exact !== undefined) {
      const list = exact.get(g.exact);
      if (list) list.push(rule.index);
      else exact.set(g.exact, [rule.index]);
    } else if (g.prefix !== "") prefixes.add(g.prefix, rule.index);
    else if (g.suffix !== "") suffixes.add(g.suffix, rule.index);
    else always.push(rule.index);
  }
  prefixes.seal();
  suffixes.seal();
  const none = rules.length;
  let best = none;
  let failure: unknown;

  const scan = (list: readonly number[], action: Action): void => {
    for (let k = 0; k < list.length; k++) {
      const i = list[k]!;
      if (i >= best) return;
      const rule = rules[i]!;
      if (!proven[i] && !rule.type.test(action.actionType)) continue;
      try {
        if (matchesRest(rule, action)) {
          best = i;
          failure = undefined;
          return;
        }
      } catch (err) {
        best = i;
        failure = err;
        return;
      }
    }
  };

  return (action) => {
    best = none;
    failure = undefined;
    const type = action.actionType;
    const n = type.length;
    const ex = exact.get(type);
    if (ex !== undefined) scan(ex, action);
    for (const len of prefixes.lengths) {
      if (len > n) break;
      const list = prefixes.get(len, len === n ? type : type.slice(0, len));
      if (list !== undefined) scan(list, action);
    }
    for (const len of suffixes.lengths) {
      if (len > n) break;
      const list = suffixes.get(len, len === n ? type : type.slice(n - len));
      if (list !== undefined) scan(list, action);
    }
    if (always.length > 0) scan(always, action);
    if (best === none) return fallback;
    if (failure !== undefined) {
      const err = failure;
      failure = undefined;
      throw err;
    }
    return rules[best]!.decision;
  };
}

function viewOf(spec: PolicySpec): PolicyView {
  const rules: RuleView[] = spec.rules.map((r) =>
    Object.freeze({
      name: r.name,
      match_type: r.type,
      match_target: r.target,
      match_agent: r.agent,
      risk_level: r.risk_level,
      approval: r.approval,
      conditions: r.conditions === null ? null : deepFreeze(structuredClone(r.conditions)),
    }),
  );
  return Object.freeze({
    default_risk_level: spec.default_risk_level,
    default_approval: spec.default_approval,
    rules: Object.freeze(rules),
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Hex SHA-256 of the canonical JSON of the normalised policy. */
export function hashSpec(spec: PolicySpec): string {
  const normal = {
    version: "1",
    defaults: { risk_level: spec.default_risk_level, approval: spec.default_approval },
    rules: spec.rules.map((r) => ({
      name: r.name,
      match: { type: r.type, target: r.target ?? "*", agent: r.agent ?? "*" },
      conditions: r.conditions,
      risk_level: r.risk_level,
      approval: r.approval,
    })),
  };
  return createHash("sha256").update(canonicalJson(normal)).digest("hex");
}

export function compileSpec(
  spec: PolicySpec,
  warnings: readonly PolicyProblem[],
  options?: CompileOptions,
): Policy {
  const now = options?.now ?? (() => new Date());
  const rules = spec.rules.map((r) => compileRule(r, now));
  const fallback = decisionOf(DEFAULT_RULE_NAME, spec.default_risk_level, spec.default_approval);
  const mode = options?.index ?? "auto";
  const useIndex = mode === "always" || (mode === "auto" && rules.length > INDEX_THRESHOLD);
  const evaluate = useIndex ? indexedEvaluator(rules, fallback) : linearEvaluator(rules, fallback);
  return Object.freeze({
    evaluate,
    ruleCount: rules.length,
    hash: hashSpec(spec),
    view: viewOf(spec),
    warnings: Object.freeze([...warnings]),
  });
}
