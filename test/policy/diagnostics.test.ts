import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compilePolicyObject,
  escapeUnsafe,
  formatProblem,
  PolicyEvaluationError,
  PolicyLoadError,
  type PolicyProblem,
  parsePolicy,
} from "../../src/policy/index.js";

/** What a terminal or log viewer must never receive raw from a policy. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = [
  "a\nfake.yaml:1:1: all good",
  "\u001b[2J\u001b[31mred",
  "x\u202eevil",
  "\u2067iso\u2069",
  "del\u007f",
  "c1\u0085",
  "nul\u0000",
];

function problemsOf(load: () => unknown): readonly PolicyProblem[] {
  try {
    load();
  } catch (e) {
    if (e instanceof PolicyLoadError) {
      for (const line of e.message.split("\n")) assert.doesNotMatch(line, UNSAFE, "PolicyLoadError.message");
      return e.problems;
    }
    throw e;
  }
  assert.fail("the policy loaded but should not have");
}

function assertSafe(problems: readonly PolicyProblem[]): void {
  assert.ok(problems.length > 0);
  for (const p of problems) {
    assert.doesNotMatch(p.path, UNSAFE, `path ${JSON.stringify(p.path)}`);
    assert.doesNotMatch(p.message, UNSAFE, `message ${JSON.stringify(p.message)}`);
    assert.doesNotMatch(formatProblem(p), UNSAFE);
    assert.doesNotMatch(p.message, /\[object |function |native code/);
  }
}

describe("escapeUnsafe", () => {
  it("escapes C0, DEL, C1, line separators, bidi controls and lone surrogates, nothing else", () => {
    assert.equal(
      escapeUnsafe("a\nb\u001b[0m\u007f\u0085\u2028\u202e\u2066\u200f"),
      "a\\u000ab\\u001b[0m\\u007f\\u0085\\u2028\\u202e\\u2066\\u200f",
    );
    assert.equal(escapeUnsafe("\ud83d!\ude00"), "\\ud83d!\\ude00");
    assert.equal(escapeUnsafe("plain ascii, é, 😀, 漢字, \\n"), "plain ascii, é, 😀, 漢字, \\n");
  });
});

describe("problem messages and paths never echo control or bidi characters", () => {
  for (const evil of HOSTILE) {
    const e = JSON.stringify(evil);
    it(`hostile text ${e} as a rule name, key, operator, value and regex`, () => {
      const yaml = [
        "rules:",
        `  - name: ${e}`,
        `  - name: ${e}`, // duplicate name: echoes it
        `    ${e}: 1`, // unknown rule key
        "    conditions:",
        `      ${e}: 1`, // unknown operator
        `      param_eq: {${e}: {}}`,
        `      param_gt: {${e}: [1]}`, // bad value, key in the path
        `      param_matches: {q: ${JSON.stringify(`(${evil}`)}}`, // invalid regex, V8 echoes the source
        `      time_after: ${e}`,
        `    risk_level: ${e}`,
        `    approval: ${e}`,
        `    match: {type: 1, ${e}: x}`,
        "",
      ].join("\n");
      const problems = problemsOf(() => parsePolicy(yaml, { sourceName: `file${evil}.yaml` }));
      assertSafe(problems);
      assert.ok(problems.length >= 8, JSON.stringify(problems));
    });
    it(`hostile text ${e} in the object form`, () => {
      assertSafe(
        problemsOf(() =>
          compilePolicyObject({
            [evil]: 1,
            rules: [{ name: evil }, { name: evil, conditions: { param_lt: { [evil]: true } } }],
          }),
        ),
      );
    });
  }
  it("YAML errors that quote the source are escaped", () => {
    assertSafe(problemsOf(() => parsePolicy("rules:\n  - name: !\u001b[31m x\n")));
    assertSafe(problemsOf(() => parsePolicy("rules: [\u001b")));
  });
  it("keys that are not plain names are quoted in paths (unambiguous: a.b is not b under a)", () => {
    const problems = problemsOf(() =>
      compilePolicyObject({ rules: [{ conditions: { param_gt: { "a.b": true, "x\ny": true, "": true } } }] }),
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      [
        'rules[0].conditions.param_gt["a.b"]',
        'rules[0].conditions.param_gt["x\\ny"]',
        'rules[0].conditions.param_gt[""]',
      ],
    );
  });
  it("positions still resolve for quoted keys", () => {
    const problems = problemsOf(() =>
      parsePolicy("rules:\n  - conditions:\n      param_gt: {'a.b': true, 'c[0]': []}\n"),
    );
    assert.deepEqual(
      problems.map((p) => [p.path, p.line, p.column]),
      [
        ['rules[0].conditions.param_gt["a.b"]', 3, 25],
        ['rules[0].conditions.param_gt["c[0]"]', 3, 39],
      ],
    );
  });
  it("long values are echoed cut short, with their length", () => {
    const problems = problemsOf(() =>
      compilePolicyObject({ defaults: { risk_level: "x".repeat(1_000_000) } }),
    );
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.message.length < 300, problems[0]!.message);
    assert.match(problems[0]!.message, /"x{80}"… \(1000000 characters\)/);
  });
  it("evaluation errors quote the rule and the param", () => {
    const p = compilePolicyObject({
      rules: [{ name: "r\u001b[2J\n", conditions: { param_gt: { "n\u202e": 1 } } }],
    });
    assert.throws(
      () => p.evaluate({ actionType: "a", target: "", params: { "n\u202e": "x" } }),
      (err: unknown) =>
        err instanceof PolicyEvaluationError &&
        !UNSAFE.test(err.message) &&
        err.message.startsWith('rule "r\\u001b[2J\\n": param_gt on param "n\\u202e": ') &&
        err.rule === "r\u001b[2J\n",
    );
  });
});
