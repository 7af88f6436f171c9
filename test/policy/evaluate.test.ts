import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Action,
  compilePolicyObject,
  DEFAULT_RULE_NAME,
  type Decision,
  PolicyEvaluationError,
  parsePolicy,
} from "../../src/policy/index.js";
import { examplesDir } from "../support/paths.js";

const act = (
  actionType: string,
  target = "",
  params: Record<string, unknown> = {},
  agentId?: string,
): Action => ({
  actionType,
  target,
  params,
  agentId,
});
const brief = (d: Decision) => [d.matchedRule, d.riskLevel, d.approval, d.isAllowed] as const;

describe("seed policies decide as the seed shows", () => {
  const seedDefault = parsePolicy(readFileSync(join(examplesDir, "policy.yaml"), "utf8"));
  const ecommerce = parsePolicy(readFileSync(join(examplesDir, "ecommerce.yaml"), "utf8"));
  const table: [string, ReturnType<typeof parsePolicy>, Action, ReturnType<typeof brief>][] = [
    ["read crm", seedDefault, act("read", "crm"), ["read_auto", "LOW", "auto", true]],
    ["write database", seedDefault, act("write", "database"), ["write_approve", "MEDIUM", "approve", true]],
    ["delete storage", seedDefault, act("delete", "storage"), ["delete_block", "CRITICAL", "block", false]],
    ["unknown -> defaults", seedDefault, act("deploy", "x"), [DEFAULT_RULE_NAME, "MEDIUM", "approve", true]],
    ["search catalog", ecommerce, act("search_products", "catalog"), ["product_search", "LOW", "auto", true]],
    [
      "search elsewhere",
      ecommerce,
      act("search_products", "admin"),
      [DEFAULT_RULE_NAME, "HIGH", "block", false],
    ],
    ["cart session", ecommerce, act("cart_add", "session"), ["cart_operations", "LOW", "auto", true]],
    [
      "order 1000",
      ecommerce,
      act("place_order", "checkout", { total: 1000 }),
      ["block_large_orders", "CRITICAL", "block", false],
    ],
    [
      "order 500",
      ecommerce,
      act("place_order", "checkout", { total: 500 }),
      ["place_order", "MEDIUM", "approve", true],
    ],
    [
      "order 500.5",
      ecommerce,
      act("place_order", "checkout", { total: 500.5 }),
      ["block_large_orders", "CRITICAL", "block", false],
    ],
    [
      "order without total",
      ecommerce,
      act("place_order", "checkout"),
      [DEFAULT_RULE_NAME, "HIGH", "block", false],
    ],
    [
      "order total null",
      ecommerce,
      act("place_order", "checkout", { total: null }),
      [DEFAULT_RULE_NAME, "HIGH", "block", false],
    ],
    ["refund", ecommerce, act("refund", "order-1"), ["refund", "HIGH", "approve", true]],
  ];
  for (const [label, policy, action, want] of table) {
    it(label, () => assert.deepEqual(brief(policy.evaluate(action)), want));
  }
  it("GET /policy view of the default policy matches the seed", () => {
    assert.deepEqual(seedDefault.view.rules[0], {
      name: "read_auto",
      match_type: "read*",
      match_target: null,
      match_agent: null,
      risk_level: "LOW",
      approval: "auto",
      conditions: null,
    });
    assert.equal(seedDefault.view.default_risk_level, "MEDIUM");
    assert.equal(seedDefault.view.default_approval, "approve");
    assert.deepEqual(ecommerce.view.rules[2]?.conditions, { param_lte: { total: 500 } });
    assert.equal(ecommerce.ruleCount, 5);
  });
  it("a string total is an evaluation error naming rule, operator and param", () => {
    assert.throws(
      () => ecommerce.evaluate(act("place_order", "checkout", { total: "1000" })),
      (e: unknown) =>
        e instanceof PolicyEvaluationError &&
        e.rule === "place_order" &&
        e.operator === "param_lte" &&
        e.param === "total" &&
        e.code === "invalid_argument" &&
        /place_order/.test(e.message) &&
        /total/.test(e.message),
    );
  });
});

describe("defaults", () => {
  const table: [string, unknown, ReturnType<typeof brief>][] = [
    ["empty object", {}, [DEFAULT_RULE_NAME, "MEDIUM", "block", false]],
    ["null document", null, [DEFAULT_RULE_NAME, "MEDIUM", "block", false]],
    [
      "defaults without approval fail closed",
      { defaults: { risk_level: "low" } },
      [DEFAULT_RULE_NAME, "LOW", "block", false],
    ],
    [
      "rule defaults: medium/approve",
      { rules: [{ match: { type: "x" } }] },
      ["rule_0", "MEDIUM", "approve", true],
    ],
    [
      "rule without match matches everything",
      { rules: [{ name: "all" }] },
      ["all", "MEDIUM", "approve", true],
    ],
    [
      "unnamed rule is rule_<index>",
      { rules: [{ name: "a", match: { type: "y" } }, { approval: "auto" }] },
      ["rule_1", "MEDIUM", "auto", true],
    ],
    [
      "risk in any case, reported upper",
      { rules: [{ risk_level: "CrItIcAl", approval: "block" }] },
      ["rule_0", "CRITICAL", "block", false],
    ],
    ["version as number", { version: 1, rules: [{ risk_level: "low" }] }, ["rule_0", "LOW", "approve", true]],
  ];
  for (const [label, doc, want] of table) {
    it(label, () => assert.deepEqual(brief(compilePolicyObject(doc).evaluate(act("x", "t"))), want));
  }
  it("an empty YAML document is a valid empty policy", () => {
    for (const text of ["", "\n", "# only a comment\n", "---\n"]) {
      const p = parsePolicy(text);
      assert.equal(p.ruleCount, 0);
      assert.deepEqual(brief(p.evaluate(act("x"))), [DEFAULT_RULE_NAME, "MEDIUM", "block", false]);
    }
  });
  it("the PUT dict form of the seed decides like its YAML form", () => {
    const p = compilePolicyObject({
      defaults: { risk_level: "high", approval: "block" },
      rules: [{ name: "allow_reads", match: { type: "read*" }, approval: "auto" }],
    });
    assert.deepEqual(brief(p.evaluate(act("read", "crm"))), ["allow_reads", "MEDIUM", "auto", true]);
    assert.deepEqual(brief(p.evaluate(act("write", "crm"))), [DEFAULT_RULE_NAME, "HIGH", "block", false]);
  });
});

describe("first match, fall-through, target and agent", () => {
  const policy = compilePolicyObject({
    defaults: { risk_level: "high", approval: "block" },
    rules: [
      { name: "big", match: { type: "pay" }, conditions: { param_gt: { amount: 100 } }, approval: "block" },
      { name: "pay", match: { type: "pay" }, approval: "approve" },
      { name: "pay_again", match: { type: "pay" }, approval: "auto" },
      { name: "csv", match: { type: "read*", target: "*.csv" }, approval: "auto" },
      { name: "bot", match: { type: "deploy", agent: "bot-*" }, approval: "auto" },
      { name: "anyagent", match: { type: "deploy", agent: "**" }, approval: "approve" },
    ],
  });
  const table: [string, Action, string][] = [
    ["conditions hold: first rule", act("pay", "", { amount: 101 }), "big"],
    ["conditions fail: falls through", act("pay", "", { amount: 100 }), "pay"],
    ["first of two equal rules wins", act("pay"), "pay"],
    ["target glob crosses /", act("read_file", "data/2024/report.csv"), "csv"],
    ["target mismatch -> default", act("read_file", "data/report.txt"), DEFAULT_RULE_NAME],
    ["agent glob matches agent_id", act("deploy", "", {}, "bot-7"), "bot"],
    ["other agent falls through", act("deploy", "", {}, "human-1"), "anyagent"],
    ["no agent_id only matches */** agent patterns", act("deploy"), "anyagent"],
  ];
  for (const [label, action, want] of table) {
    it(label, () => assert.equal(policy.evaluate(action).matchedRule, want));
  }
  it("decisions are frozen and shared (no per-call allocation)", () => {
    const a = policy.evaluate(act("pay"));
    assert.equal(a, policy.evaluate(act("pay")));
    assert.ok(Object.isFrozen(a));
    assert.ok(Object.isFrozen(policy.view.rules));
  });
  it("an evaluation error surfaces only when no earlier rule matched", () => {
    const p = compilePolicyObject({
      rules: [
        { name: "first", match: { type: "a" } },
        { name: "typed", match: { type: "*" }, conditions: { param_gt: { n: 1 } } },
      ],
    });
    assert.equal(p.evaluate(act("a", "", { n: "x" })).matchedRule, "first");
    assert.throws(() => p.evaluate(act("b", "", { n: "x" })), PolicyEvaluationError);
  });
});

describe("hash", () => {
  it("is the same for equivalent YAML and object forms, and changes with content", () => {
    const a = parsePolicy("rules:\n  - name: r\n    match: {type: 'read*'}\n    risk_level: LOW\n");
    const b = compilePolicyObject({
      version: "1",
      rules: [{ name: "r", match: { type: "read*" }, risk_level: "low" }],
    });
    const c = compilePolicyObject({ rules: [{ name: "r", match: { type: "read*" }, risk_level: "high" }] });
    assert.match(a.hash, /^[0-9a-f]{64}$/);
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, c.hash);
  });
});

describe("the rule index decides exactly like the top-to-bottom loop", () => {
  const words = ["read", "write", "del", "re", "r", "file", "_x", "a"];
  const piece = fc.constantFrom(...words);
  const glob = fc
    .tuple(
      fc.constantFrom("", "*", "?"),
      fc.array(piece, { maxLength: 2 }),
      fc.constantFrom("", "*", "[ab]", "?"),
    )
    .map(([a, mid, z]) => a + mid.join("") + z);
  const rule = fc.record({
    type: glob,
    target: fc.constantFrom(undefined, "*", "t*", "x"),
    agent: fc.constantFrom(undefined, "*", "bot*"),
    n: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  });
  const action = fc.record({
    type: fc.array(piece, { maxLength: 3 }).map((p) => p.join("")),
    target: fc.constantFrom("", "t1", "x"),
    agent: fc.constantFrom(undefined, "bot1", "human"),
    n: fc.constantFrom(undefined, 0, 2, "s"),
  });
  it("on random policies and actions (including evaluation errors)", () => {
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 30 }),
        fc.array(action, { minLength: 1, maxLength: 20 }),
        (rules, actions) => {
          const doc = {
            rules: rules.map((r, i) => ({
              name: `r${i}`,
              match: {
                type: r.type,
                ...(r.target ? { target: r.target } : {}),
                ...(r.agent ? { agent: r.agent } : {}),
              },
              ...(r.n !== undefined ? { conditions: { param_gte: { n: r.n } } } : {}),
            })),
          };
          const linear = compilePolicyObject(doc, { index: "never" });
          const indexed = compilePolicyObject(doc, { index: "always" });
          for (const a of actions) {
            const x = act(a.type, a.target, a.n === undefined ? {} : { n: a.n }, a.agent);
            const run = (p: typeof linear) => {
              try {
                return p.evaluate(x).matchedRule;
              } catch (e) {
                return e instanceof PolicyEvaluationError ? `error:${e.rule}` : `unexpected:${String(e)}`;
              }
            };
            assert.equal(run(indexed), run(linear), JSON.stringify({ doc, x }));
          }
        },
      ),
      { numRuns: 400, seed: 42 },
    );
  });
});
