// Policy tests as code: a YAML suite of cases, each an action (optionally an agent and a clock)
// and the decision it must get. Parsed with the policy's own YAML reader, so a problem in the
// suite points at its line and column the way a problem in a policy does.
//
//   tests:
//     - name: reads are automatic
//       action: {action_type: read, target: crm, params: {}}
//       agent_id: bot-1                # optional
//       now: "2026-03-02T10:00:00Z"    # optional: the clock time conditions see
//       expect: {risk_level: LOW, approval: auto, rule: read_auto}
//     - name: a string amount is refused
//       action: {action_type: pay, params: {amount: "x"}}
//       expect: {error: "amount"}      # the evaluation fails and the message contains this
import { APPROVALS, type Locator, RISK_LEVELS, readYaml } from "../policy/index.js";
import type { Action, Approval, Policy, PolicyProblem, RiskLevel } from "../policy/types.js";

export interface Expectation {
  readonly riskLevel?: RiskLevel;
  readonly approval?: Approval;
  readonly rule?: string;
  readonly allowed?: boolean;
  readonly error?: string;
}

export interface PolicyTestCase {
  readonly name: string;
  readonly line: number;
  readonly action: Action;
  readonly now?: Date;
  readonly expect: Expectation;
}

export interface CaseOutcome {
  readonly testCase: PolicyTestCase;
  /** Empty when the case passed; otherwise one line per unmet expectation. */
  readonly failures: readonly string[];
  readonly seconds: number;
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);

const CASE_KEYS = ["name", "action", "agent_id", "now", "expect"];
const ACTION_KEYS = ["action_type", "target", "params", "agent_id"];
const EXPECT_KEYS = ["risk_level", "approval", "rule", "allowed", "error"];

class SuiteReader {
  readonly problems: PolicyProblem[] = [];
  constructor(private readonly locate: Locator) {}

  problem(path: string, message: string, part: "key" | "value" = "value"): void {
    const pos = this.locate(path, part);
    this.problems.push({ path, message, line: pos?.line, column: pos?.column });
  }

  line(path: string): number {
    return this.locate(path, "value")?.line ?? 0;
  }

  keys(v: Plain, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) {
        const at = path === "" ? k : `${path}.${k}`;
        this.problem(at, `unknown key "${k}" (expected ${allowed.join(", ")})`, "key");
      }
    }
  }

  string(v: unknown, path: string, required: boolean): string | undefined {
    if (v === undefined || v === null) {
      if (required) this.problem(path, "is required");
      return undefined;
    }
    if (typeof v !== "string") {
      this.problem(path, `must be a string, got ${typeof v}`);
      return undefined;
    }
    return v;
  }
}

/** Parses a suite; `problems` is non-empty (and `cases` empty) when the suite is invalid. */
export function parseSuite(text: string): { cases: PolicyTestCase[]; problems: PolicyProblem[] } {
  const source = readYaml(text);
  if (source.problems.length > 0) return { cases: [], problems: [...source.problems] };
  const r = new SuiteReader(source.locate);
  const doc = source.value;
  if (!isPlain(doc) || !Array.isArray(doc["tests"])) {
    r.problem("", 'a test suite is a mapping with a "tests" list');
    return { cases: [], problems: r.problems };
  }
  r.keys(doc, ["tests"], "");
  const cases: PolicyTestCase[] = [];
  const names = new Set<string>();
  (doc["tests"] as unknown[]).forEach((raw, i) => {
    const at = `tests[${i}]`;
    if (!isPlain(raw)) {
      r.problem(at, "a test case is a mapping (name, action, expect)");
      return;
    }
    r.keys(raw, CASE_KEYS, at);
    const name = r.string(raw["name"], `${at}.name`, false) ?? `case ${i + 1}`;
    if (names.has(name)) r.problem(`${at}.name`, `duplicate test name "${name}"`);
    names.add(name);
    const action = readAction(
      r,
      raw["action"],
      `${at}.action`,
      r.string(raw["agent_id"], `${at}.agent_id`, false),
    );
    const expect = readExpect(r, raw["expect"], `${at}.expect`);
    const now = readClock(r, raw["now"], `${at}.now`);
    if (action !== undefined && expect !== undefined) {
      cases.push({ name, line: r.line(at), action, expect, ...(now === undefined ? {} : { now }) });
    }
  });
  if (cases.length === 0 && r.problems.length === 0) r.problem("tests", "the suite has no test cases");
  return r.problems.length > 0 ? { cases: [], problems: r.problems } : { cases, problems: [] };
}

function readAction(
  r: SuiteReader,
  v: unknown,
  path: string,
  caseAgent: string | undefined,
): Action | undefined {
  if (!isPlain(v)) {
    r.problem(path, "is required: a mapping with action_type (and optionally target, params, agent_id)");
    return undefined;
  }
  r.keys(v, ACTION_KEYS, path);
  const actionType = r.string(v["action_type"], `${path}.action_type`, true);
  const target = r.string(v["target"], `${path}.target`, false) ?? "";
  const agentId = r.string(v["agent_id"], `${path}.agent_id`, false) ?? caseAgent;
  const params = v["params"] ?? {};
  if (!isPlain(params)) {
    r.problem(`${path}.params`, "must be a mapping");
    return undefined;
  }
  if (actionType === undefined) return undefined;
  return { actionType, target, params, ...(agentId === undefined ? {} : { agentId }) };
}

function readExpect(r: SuiteReader, v: unknown, path: string): Expectation | undefined {
  if (!isPlain(v) || Object.keys(v).length === 0) {
    r.problem(path, `is required: a mapping with any of ${EXPECT_KEYS.join(", ")}`);
    return undefined;
  }
  r.keys(v, EXPECT_KEYS, path);
  const out: { -readonly [K in keyof Expectation]: Expectation[K] } = {};
  const risk = r.string(v["risk_level"], `${path}.risk_level`, false);
  if (risk !== undefined) {
    const upper = risk.toUpperCase() as RiskLevel;
    if ((RISK_LEVELS as readonly string[]).includes(upper)) out.riskLevel = upper;
    else r.problem(`${path}.risk_level`, `must be one of ${RISK_LEVELS.join(", ")}`);
  }
  const approval = r.string(v["approval"], `${path}.approval`, false);
  if (approval !== undefined) {
    if ((APPROVALS as readonly string[]).includes(approval)) out.approval = approval as Approval;
    else r.problem(`${path}.approval`, `must be one of ${APPROVALS.join(", ")}`);
  }
  const rule = r.string(v["rule"], `${path}.rule`, false);
  if (rule !== undefined) out.rule = rule;
  if (v["allowed"] !== undefined) {
    if (typeof v["allowed"] === "boolean") out.allowed = v["allowed"];
    else r.problem(`${path}.allowed`, "must be true or false");
  }
  const error = r.string(v["error"], `${path}.error`, false);
  if (error !== undefined) {
    out.error = error;
    if (Object.keys(out).length > 1) r.problem(`${path}.error`, "an expected error excludes a decision");
  }
  return out;
}

function readClock(r: SuiteReader, v: unknown, path: string): Date | undefined {
  if (v === undefined || v === null) return undefined;
  // YAML timestamps stay strings (the reader resolves no !!timestamp), so both spellings arrive here.
  const text = typeof v === "string" ? v : undefined;
  const d = text === undefined ? undefined : new Date(text);
  if (
    text === undefined ||
    d === undefined ||
    Number.isNaN(d.getTime()) ||
    !/^\d{4}-\d{2}-\d{2}T/.test(text)
  ) {
    r.problem(path, 'must be an ISO 8601 date and time, e.g. "2026-03-02T10:00:00Z"');
    return undefined;
  }
  return d;
}

/**
 * Runs every case against a policy compiled with `clock` as its time source: the runner sets the
 * clock per case (a case without `now` sees the time the run started).
 */
export function runSuite(
  policy: Policy,
  clock: { now: Date },
  cases: readonly PolicyTestCase[],
): CaseOutcome[] {
  const started = new Date();
  return cases.map((c) => {
    clock.now = c.now ?? started;
    const t0 = performance.now();
    const failures = check(policy, c);
    return { testCase: c, failures, seconds: (performance.now() - t0) / 1000 };
  });
}

function check(policy: Policy, c: PolicyTestCase): string[] {
  let decision: ReturnType<Policy["evaluate"]>;
  try {
    decision = policy.evaluate(c.action);
  } catch (err) {
    if (!(err instanceof Error) || err.name !== "PolicyEvaluationError") throw err;
    if (c.expect.error !== undefined && err.message.includes(c.expect.error)) return [];
    return [`evaluation failed: ${err.message}`];
  }
  const e = c.expect;
  const got = `${decision.riskLevel}/${decision.approval} by rule ${decision.matchedRule}`;
  const out: string[] = [];
  if (e.error !== undefined) out.push(`expected an error containing "${e.error}", got ${got}`);
  if (e.riskLevel !== undefined && e.riskLevel !== decision.riskLevel)
    out.push(`expected risk_level ${e.riskLevel}, got ${got}`);
  if (e.approval !== undefined && e.approval !== decision.approval)
    out.push(`expected approval ${e.approval}, got ${got}`);
  if (e.rule !== undefined && e.rule !== decision.matchedRule)
    out.push(`expected rule ${e.rule}, got ${got}`);
  if (e.allowed !== undefined && e.allowed !== decision.isAllowed)
    out.push(`expected allowed ${e.allowed}, got ${got}`);
  return out;
}
