// A validated PolicySpec -> an immutable Policy: globs compiled once, conditions compiled once,
// one frozen Decision per rule (evaluation allocates nothing), and for larger policies an index
// of the rules by the literal prefix / suffix of their type pattern that keeps first-match order.
import { createHash } from "node:crypto";
import { type CompiledConditions, compileConditions } from "./conditions.js";
import { compileGlob, type Glob } from "./glob.js";
import { canonicalJson } from "./private/canonical-json.js";
import { plainCopy } from "./private/plain-copy.js";
import type { RegexSearch } from "./regex-safety.js";
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

function compileRule(
  spec: RuleSpec,
  now: () => Date,
  regexes: ReadonlyMap<string, RegexSearch> | undefined,
): CompiledRule {
  const target = spec.target === null ? undefined : compileGlob(spec.target);
  const agent = spec.agent === null ? undefined : compileGlob(spec.agent);
  return {
    index: spec.index,
    type: compileGlob(spec.type),
    target: target && !target.matchesAll ? target.test : undefined,
    agent: agent && !agent.matchesAll ? agent.test : undefined,
    conditions: spec.conditions
      ? compileConditions(spec.name, spec.conditions, now, regexes).check
      : undefined,
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

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/** Keeps hashes in V8's small-integer range, so map lookups never box a number. */
const SMI = 0x3fffffff;

/**
 * Rule indices (ascending) grouped by a literal key (a prefix, or a reversed suffix), looked up by
 * a rolling FNV-1a hash of the action type's characters: one pass over the type, no substrings
 * allocated or re-hashed. Lists under a hash may (rarely) hold other keys; the scan verifies.
 */
class RollingIndex {
  private readonly map = new Map<number, number[]>();
  /** hasLength[L]: some key has length L. */
  hasLength = new Uint8Array(1);
  maxLength = 0;

  add(key: string, reversed: boolean, rule: number): void {
    let h = FNV_OFFSET;
    for (let k = 0; k < key.length; k++) {
      h = Math.imul(h ^ key.charCodeAt(reversed ? key.length - 1 - k : k), FNV_PRIME);
    }
    const slot = h & SMI;
    const list = this.map.get(slot);
    if (list) list.push(rule);
    else this.map.set(slot, [rule]);
    if (key.length > this.maxLength) {
      const grown = new Uint8Array(key.length + 1);
      grown.set(this.hasLength);
      this.hasLength = grown;
      this.maxLength = key.length;
    }
    this.hasLength[key.length] = 1;
  }

  get(slot: number): number[] | undefined {
    return this.map.get(slot);
  }
}

/**
 * First match over an index. A rule can only match when its type pattern's literal prefix (or, for
 * patterns that start with a wildcard, its literal suffix) is a prefix (suffix) of the action type,
 * so only the lists under those keys are scanned: the exact-type list, one list per prefix length
 * that some pattern has, one per suffix length, and the patterns with neither. The winner is the smallest matching rule index
 * over all lists, which is exactly the first match of a top-to-bottom scan. A rule whose
 * conditions throw counts as "matched" at its position: the error surfaces only when no earlier
 * rule matches, as in the top-to-bottom scan.
 */
function indexedEvaluator(rules: readonly CompiledRule[], fallback: Decision): Evaluate {
  const exact = new Map<string, number[]>();
  const prefixes = new RollingIndex();
  const suffixes = new RollingIndex();
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
    } else if (g.prefix !== "") prefixes.add(g.prefix, false, rule.index);
    else if (g.suffix !== "") suffixes.add(g.suffix, true, rule.index);
    else always.push(rule.index);
  }
  const none = rules.length;
  let best = none;
  let failure: unknown;

  /** `verify`: 0 none (exact key), 1 the rule's literal prefix, 2 its literal suffix (hash lists). */
  const scan = (list: readonly number[], action: Action, verify: number): void => {
    const type = action.actionType;
    for (let k = 0; k < list.length; k++) {
      const i = list[k]!;
      if (i >= best) return;
      const rule = rules[i]!;
      if (!proven[i]) {
        if (!rule.type.test(type)) continue;
      } else if (verify === 1) {
        if (!type.startsWith(rule.type.prefix)) continue;
      } else if (verify === 2) {
        if (!type.endsWith(rule.type.suffix)) continue;
      }
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
    if (ex !== undefined) scan(ex, action, 0);
    let h = FNV_OFFSET;
    const pHas = prefixes.hasLength;
    const pEnd = Math.min(n, prefixes.maxLength);
    for (let k = 0; k < pEnd; k++) {
      h = Math.imul(h ^ type.charCodeAt(k), FNV_PRIME);
      if (pHas[k + 1] === 1) {
        const list = prefixes.get(h & SMI);
        if (list !== undefined) scan(list, action, 1);
      }
    }
    h = FNV_OFFSET;
    const sHas = suffixes.hasLength;
    const sEnd = Math.min(n, suffixes.maxLength);
    for (let k = 0; k < sEnd; k++) {
      h = Math.imul(h ^ type.charCodeAt(n - 1 - k), FNV_PRIME);
      if (sHas[k + 1] === 1) {
        const list = suffixes.get(h & SMI);
        if (list !== undefined) scan(list, action, 2);
      }
    }
    if (always.length > 0) scan(always, action, 0);
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
      conditions: r.conditions === null ? null : deepFreeze(plainCopy(r.conditions)),
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
  /** The regexes validation compiled, by source (compiled again when absent). */
  regexes?: ReadonlyMap<string, RegexSearch>,
): Policy {
  const now = options?.now ?? (() => new Date());
  const rules = spec.rules.map((r) => compileRule(r, now, regexes));
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
