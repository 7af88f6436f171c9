import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compilePolicyObject,
  MAX_POLICY_DEPTH,
  PolicyLoadError,
  type PolicyProblem,
  parsePolicy,
} from "../../src/policy/index.js";

function problemsOf(load: () => unknown): readonly PolicyProblem[] {
  try {
    load();
  } catch (e) {
    if (e instanceof PolicyLoadError) return e.problems;
    throw e;
  }
  assert.fail("the policy loaded but should not have");
}

const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe("non-finite numbers anywhere are load errors naming the path", () => {
  // What a google.protobuf.Struct (gRPC / Connect binary) can carry but JSON cannot.
  const table: [label: string, doc: Record<string, unknown>, path: string][] = [
    [
      "NaN in a param_eq list",
      { rules: [{ conditions: { param_eq: { a: [1, Number.NaN] } } }] },
      "rules[0].conditions.param_eq.a[1]",
    ],
    [
      "Infinity deep in a param_eq object",
      { rules: [{ conditions: { param_eq: { a: { b: { c: Number.POSITIVE_INFINITY } } } } }] },
      "rules[0].conditions.param_eq.a.b.c",
    ],
    [
      "-Infinity in param_contains",
      { rules: [{ conditions: { param_contains: { t: -Infinity } } }] },
      "rules[0].conditions.param_contains.t",
    ],
    [
      "NaN as param_gt limit",
      { rules: [{ conditions: { param_gt: { n: Number.NaN } } }] },
      "rules[0].conditions.param_gt.n",
    ],
    [
      "NaN as a weekday",
      { rules: [{ conditions: { weekdays: [1, Number.NaN] } }] },
      "rules[0].conditions.weekdays[1]",
    ],
    ["Infinity as version", { version: Number.POSITIVE_INFINITY }, "version"],
    ["NaN under an unknown key", { rules: [{ extra: { x: Number.NaN } }] }, "rules[0].extra"],
  ];
  for (const [label, doc, path] of table) {
    it(label, () => {
      const problems = problemsOf(() => compilePolicyObject(doc));
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]!.path, path);
      assert.doesNotMatch(problems[0]!.message, /\[object|undefined/);
    });
  }
  it("YAML .nan, .inf and -.inf: line and column of each", () => {
    const problems = problemsOf(() =>
      parsePolicy(
        "rules:\n  - conditions:\n      param_eq: {a: [1, .nan]}\n      param_contains: {b: -.inf, c: .Inf}\n",
      ),
    );
    assert.deepEqual(
      problems.map((p) => [p.path, p.line, p.column]),
      [
        ["rules[0].conditions.param_eq.a[1]", 3, 25],
        ["rules[0].conditions.param_contains.b", 4, 27],
        ["rules[0].conditions.param_contains.c", 4, 37],
      ],
    );
    for (const p of problems) assert.match(p.message, /no NaN or Infinity/);
  });
});

describe("only plain JSON data is a policy", () => {
  class Custom {
    a = 1;
  }
  const table: [label: string, value: unknown, message: RegExp][] = [
    ["a Map", new Map([["a", 1]]), /Map/],
    ["a Set", new Set(["a"]), /Set/],
    ["a Date", new Date(0), /date/],
    ["a Uint8Array", new Uint8Array(2), /binary/],
    ["a bigint", 10n, /bigint/],
    ["a function", () => 1, /function/],
    ["a symbol", Symbol("s"), /symbol/],
    ["a class instance", new Custom(), /not a plain mapping/],
  ];
  for (const [label, value, message] of table) {
    it(`${label} is refused at its path, never read as {} or printed`, () => {
      const problems = problemsOf(() =>
        compilePolicyObject({ rules: [{ conditions: { param_eq: { v: value } } }] }),
      );
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]!.path, "rules[0].conditions.param_eq.v");
      assert.match(problems[0]!.message, message);
      assert.doesNotMatch(problems[0]!.message, /\[object|=>|return/);
    });
  }
  it("a Map as the conditions (what !!omap used to become) is refused, not an empty mapping", () => {
    const problems = problemsOf(() =>
      compilePolicyObject({ rules: [{ conditions: new Map(), approval: "block" }] }),
    );
    assert.equal(problems[0]!.path, "rules[0].conditions");
  });
  it("null-prototype objects are plain data", () => {
    const conditions = Object.assign(Object.create(null) as Record<string, unknown>, { param_eq: { a: 1 } });
    const p = compilePolicyObject({ rules: [{ name: "r", conditions }] });
    assert.equal(p.evaluate({ actionType: "x", target: "", params: { a: 1 } }).matchedRule, "r");
  });
});

describe(`nesting is bounded at load (${MAX_POLICY_DEPTH} levels, as for JSON bodies)`, () => {
  const withValue = (v: unknown) => ({ rules: [{ name: "r", conditions: { param_eq: { a: v } } }] });
  // The document, rules, the rule, conditions and param_eq are 5 levels: the value gets the rest.
  it(`exactly ${MAX_POLICY_DEPTH} levels load, one more does not`, () => {
    const p = compilePolicyObject(withValue(nested(MAX_POLICY_DEPTH - 5)));
    assert.equal(p.view.rules.length, 1);
    assert.doesNotThrow(() => JSON.stringify(p.view));
    const problems = problemsOf(() => compilePolicyObject(withValue(nested(MAX_POLICY_DEPTH - 4))));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /nested more than 100 levels deep/);
    assert.match(problems[0]!.path, /^rules\[0\]\.conditions\.param_eq\.a(\[0\])+$/);
  });
  it("a 100,000-deep object is refused without overflowing the stack", () => {
    const problems = problemsOf(() => compilePolicyObject(withValue(nested(100_000))));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /nested more than 100 levels deep/);
  });
  it("a cyclic object is refused", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    assert.match(problemsOf(() => compilePolicyObject(withValue(cyclic)))[0]!.message, /nested more than/);
  });
  it("a shared-subtree object graph (2^40 paths) is refused quickly", () => {
    let v: unknown = 1;
    for (let i = 0; i < 40; i++) v = [v, v];
    const started = performance.now();
    assert.match(problemsOf(() => compilePolicyObject(withValue(v)))[0]!.message, /more than 1000000 values/);
    assert.ok(performance.now() - started < 5000);
  });
  for (const [label, depth] of [
    ["1,000-deep", 1000],
    ["100,000-deep", 100_000],
  ] as const) {
    it(`a ${label} YAML flow value is refused with its position`, () => {
      const yaml = `rules:\n  - conditions:\n      param_eq: {a: ${"[".repeat(depth)}${"]".repeat(depth)}}\n`;
      const problems = problemsOf(() => parsePolicy(yaml));
      assert.equal(problems.length, 1);
      assert.match(problems[0]!.message, /nested more than 100 levels deep/);
      // The first bracket (column 21) opens level 6, so level 101 is the 96th bracket.
      assert.deepEqual([problems[0]!.line, problems[0]!.column], [3, 21 + 95]);
    });
  }
  it("a 1,000-deep YAML block mapping is refused with its position", () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `${" ".repeat(i)}k${i}:`);
    const problems = problemsOf(() => parsePolicy(`${lines.join("\n")} 1\n`));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /nested more than 100 levels deep/);
    assert.equal(problems[0]!.line, 101);
  });
  it("aliases cannot nest deeper than the bound either", () => {
    const lines = ["a0: &a0 [1]"];
    for (let i = 1; i < 60; i++) lines.push(`a${i}: &a${i} [[[*a${i - 1}]]]`);
    const problems = problemsOf(() => parsePolicy(`${lines.join("\n")}\n`));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /alias "\*a\d+" nests the policy more than 100 levels deep/);
    assert.ok(problems[0]!.line !== undefined);
  });
  it("an alias inside its own anchor is refused (it would be a cycle)", () => {
    const problems = problemsOf(() => parsePolicy("rules: &r [*r]\n"));
    assert.match(problems[0]!.message, /inside its own anchor/);
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [1, 12]);
  });
  it("billion laughs stays bounded", () => {
    const lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a, a]"];
    for (let i = 1; i < 9; i++)
      lines.push(
        `x${i}: &x${i} [${Array(10)
          .fill(`*x${i - 1}`)
          .join(", ")}]`,
      );
    const started = performance.now();
    assert.match(
      problemsOf(() => parsePolicy(lines.join("\n")))[0]!.message,
      /alias count|resource exhaustion/,
    );
    assert.ok(performance.now() - started < 2000);
  });
});
