import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compilePolicyObject,
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

describe("validation: each error with its path and YAML line:col", () => {
  // [label, yaml, path, line, column, message pattern]
  const table: [string, string, string, number, number, RegExp][] = [
    ["version 2", "version: 2\n", "version", 1, 10, /version must be "1"/],
    ["version '1.0'", "version: '1.0'\n", "version", 1, 10, /version must be "1"/],
    [
      "unknown top-level key",
      "version: '1'\nrulez: []\n",
      "rulez",
      2,
      1,
      /unknown key "rulez".*did you mean "rules"/,
    ],
    ["scope is unsupported", "scope: global\n", "scope", 1, 1, /`scope`.*not supported/],
    ["plan_rules is unsupported", "plan_rules: []\n", "plan_rules", 1, 1, /`plan_rules`.*not supported/],
    [
      "semantic in a rule",
      "rules:\n  - semantic: true\n",
      "rules[0].semantic",
      2,
      5,
      /`semantic`.*not supported/,
    ],
    ["document not a mapping", "- a\n- b\n", "", 1, 1, /must be a mapping/],
    ["defaults not a mapping", "defaults: block\n", "defaults", 1, 11, /defaults must be a mapping/],
    [
      "bad default risk",
      "defaults: {risk_level: huge}\n",
      "defaults.risk_level",
      1,
      24,
      /low, medium, high, critical/,
    ],
    [
      "approval case matters",
      "defaults:\n  approval: Block\n",
      "defaults.approval",
      2,
      13,
      /did you mean "block"/,
    ],
    ["unknown defaults key", "defaults:\n  risk: low\n", "defaults.risk", 2, 3, /did you mean "risk_level"/],
    ["rules not a list", "rules: {a: 1}\n", "rules", 1, 8, /rules must be a list/],
    ["rule not a mapping", "rules:\n  - read*\n", "rules[0]", 2, 5, /a rule must be a mapping/],
    [
      "unknown rule key",
      "rules:\n  - name: a\n    aproval: auto\n",
      "rules[0].aproval",
      3,
      5,
      /did you mean "approval"/,
    ],
    [
      "bad rule approval",
      "rules:\n  - approval: allow\n",
      "rules[0].approval",
      2,
      15,
      /auto, approve, block/,
    ],
    ["bad rule risk", "rules:\n  - risk_level: 3\n", "rules[0].risk_level", 2, 17, /risk_level must be/],
    ["empty name", "rules:\n  - name: ''\n", "rules[0].name", 2, 11, /non-empty string/],
    ["reserved name", "rules:\n  - name: <default>\n", "rules[0].name", 2, 11, /reserved/],
    [
      "duplicate names",
      "rules:\n  - name: a\n  - name: a\n",
      "rules[1].name",
      3,
      11,
      /duplicate rule name "a"/,
    ],
    [
      "duplicate with generated name",
      "rules:\n  - name: rule_1\n  - {}\n",
      "rules[1]",
      3,
      5,
      /duplicate rule name "rule_1"/,
    ],
    ["match not a mapping", "rules:\n  - match: read*\n", "rules[0].match", 2, 12, /match must be a mapping/],
    ["non-string glob", "rules:\n  - match: {type: 42}\n", "rules[0].match.type", 2, 19, /glob string/],
    [
      "list glob",
      "rules:\n  - match:\n      target: [a, b]\n",
      "rules[0].match.target",
      3,
      15,
      /glob string/,
    ],
    [
      "unknown match key",
      "rules:\n  - match: {action_type: x}\n",
      "rules[0].match.action_type",
      2,
      13,
      /unknown key "action_type" in match/,
    ],
    [
      "misspelt match key",
      "rules:\n  - match: {tgt: x}\n",
      "rules[0].match.tgt",
      2,
      13,
      /did you mean "target"/,
    ],
    [
      "conditions not a mapping",
      "rules:\n  - conditions: [a]\n",
      "rules[0].conditions",
      2,
      17,
      /conditions must be a mapping/,
    ],
    [
      "unknown operator",
      "rules:\n  - conditions:\n      param_gtt: {a: 1}\n",
      "rules[0].conditions.param_gtt",
      3,
      7,
      /did you mean "param_gt"/,
    ],
    [
      "operator without prefix",
      "rules:\n  - conditions:\n      contains: {a: x}\n",
      "rules[0].conditions.contains",
      3,
      7,
      /did you mean "param_contains"/,
    ],
    [
      "operator value not a mapping",
      "rules:\n  - conditions:\n      param_gt: 5\n",
      "rules[0].conditions.param_gt",
      3,
      17,
      /mapping of param name to value/,
    ],
    [
      "gt with a boolean",
      "rules:\n  - conditions:\n      param_gt: {n: true}\n",
      "rules[0].conditions.param_gt.n",
      3,
      21,
      /number or a string/,
    ],
    [
      "gt with a list",
      "rules:\n  - conditions:\n      param_lte: {n: [1]}\n",
      "rules[0].conditions.param_lte.n",
      3,
      22,
      /number or a string/,
    ],
    [
      "gt with .inf",
      "rules:\n  - conditions:\n      param_gt: {n: .inf}\n",
      "rules[0].conditions.param_gt.n",
      3,
      21,
      /number or a string/,
    ],
    [
      "matches needs a string",
      "rules:\n  - conditions:\n      param_matches: {p: 5}\n",
      "rules[0].conditions.param_matches.p",
      3,
      26,
      /regex string/,
    ],
    [
      "invalid regex",
      "rules:\n  - conditions:\n      param_matches: {p: '('}\n",
      "rules[0].conditions.param_matches.p",
      3,
      26,
      /invalid regex/,
    ],
    [
      "python named group",
      "rules:\n  - conditions:\n      param_matches: {p: '(?P<x>a)'}\n",
      "rules[0].conditions.param_matches.p",
      3,
      26,
      /\(\?<name>/,
    ],
    [
      "malformed time",
      "rules:\n  - conditions:\n      time_after: '9am'\n",
      "rules[0].conditions.time_after",
      3,
      19,
      /HH:MM/,
    ],
    [
      "time 24:00",
      "rules:\n  - conditions:\n      time_before: '24:00'\n",
      "rules[0].conditions.time_before",
      3,
      20,
      /HH:MM/,
    ],
    [
      "YAML 1.1 sexagesimal time",
      "%YAML 1.1\n---\nrules:\n  - conditions: {time_after: 22:00}\n",
      "rules[0].conditions.time_after",
      4,
      30,
      /got number 1320 \(quote it/,
    ],
    ["two documents", "rules: []\n---\nrules: []\n", "", 2, 1, /one YAML document/],
    [
      "time as number",
      "rules:\n  - conditions:\n      time_before: 1700\n",
      "rules[0].conditions.time_before",
      3,
      20,
      /HH:MM/,
    ],
    [
      "weekday 0",
      "rules:\n  - conditions:\n      weekdays: [1, 0]\n",
      "rules[0].conditions.weekdays[1]",
      3,
      21,
      /1 \(Monday\) to 7/,
    ],
    [
      "weekday name",
      "rules:\n  - conditions:\n      weekdays: [mon]\n",
      "rules[0].conditions.weekdays[0]",
      3,
      18,
      /1 \(Monday\) to 7/,
    ],
    [
      "weekdays not a list",
      "rules:\n  - conditions:\n      weekdays: 1\n",
      "rules[0].conditions.weekdays",
      3,
      17,
      /list of ISO weekdays/,
    ],
    [
      "bad timezone",
      "rules:\n  - conditions:\n      timezone: Mars/Base\n",
      "rules[0].conditions.timezone",
      3,
      17,
      /IANA time zone/,
    ],
    ["YAML syntax error", "rules: [\n", "", 2, 1, /YAML/],
    ["YAML duplicate key", "rules: []\nrules: []\n", "", 2, 1, /YAML.*unique/],
  ];
  for (const [label, yaml, path, line, column, message] of table) {
    it(label, () => {
      const problems = problemsOf(() => parsePolicy(yaml));
      const p = problems.find((x) => x.path === path) ?? problems[0];
      assert.ok(p);
      assert.equal(p.path, path, JSON.stringify(problems));
      assert.match(p.message, message);
      assert.deepEqual([p.line, p.column], [line, column], JSON.stringify(p));
    });
  }
});

describe("validation: all problems at once", () => {
  const yaml = [
    "version: 3", // 1
    "defaults: {risk_level: huge, approval: maybe}", // 2
    "rules:", // 3
    "  - name: a", // 4
    "    match: {type: 1}", // 5
    "    conditions: {param_gtt: {a: 1}, time_after: '25:00'}", // 6
    "  - name: a", // 7
    "    scope: x", // 8
    "",
  ].join("\n");
  it("reports every problem, in document order, with line:col", () => {
    const problems = problemsOf(() => parsePolicy(yaml));
    assert.deepEqual(
      problems.map((p) => `${p.line}:${p.column} ${p.path}`),
      [
        "1:10 version",
        "2:24 defaults.risk_level",
        "2:40 defaults.approval",
        "5:19 rules[0].match.type",
        "6:18 rules[0].conditions.param_gtt",
        "6:49 rules[0].conditions.time_after",
        "7:11 rules[1].name",
        "8:5 rules[1].scope",
      ],
    );
  });
  it("the error message lists every problem as line:col: path: message", () => {
    try {
      parsePolicy(yaml, { sourceName: "p.yaml" });
      assert.fail("should throw");
    } catch (e) {
      assert.ok(e instanceof PolicyLoadError);
      const lines = e.message.split("\n");
      assert.match(lines[0]!, /8 problems/);
      assert.equal(lines.length, 9);
      assert.match(lines[1]!, /^ {2}p\.yaml: 1:10: version: version must be "1"/);
    }
  });
  it("the object form reports paths without positions", () => {
    const problems = problemsOf(() =>
      compilePolicyObject({ rules: [{ match: { type: 5 } }, { approval: "yes" }], extra: 1 }),
    );
    assert.deepEqual(
      problems.map((p) => [p.path, p.line]),
      [
        ["extra", undefined],
        ["rules[0].match.type", undefined],
        ["rules[1].approval", undefined],
      ],
    );
  });
});

describe("validation: warnings (the policy still loads)", () => {
  const table: [string, string, string, RegExp][] = [
    [
      "empty time window",
      "rules:\n  - conditions: {time_after: '10:00', time_before: '10:00'}\n",
      "rules[0].conditions.time_before",
      /window is empty/,
    ],
    [
      "empty weekdays",
      "rules:\n  - conditions: {weekdays: []}\n",
      "rules[0].conditions.weekdays",
      /never matches/,
    ],
    [
      "timezone alone",
      "rules:\n  - conditions: {timezone: UTC}\n",
      "rules[0].conditions.timezone",
      /no effect/,
    ],
    [
      "param_eq null",
      "rules:\n  - conditions: {param_eq: {a: null}}\n",
      "rules[0].conditions.param_eq.a",
      /never matches/,
    ],
  ];
  for (const [label, yaml, path, message] of table) {
    it(label, () => {
      const p = parsePolicy(yaml);
      assert.equal(p.warnings.length, 1);
      assert.equal(p.warnings[0]!.path, path);
      assert.match(p.warnings[0]!.message, message);
      assert.equal(p.warnings[0]!.line, 2);
    });
  }
});

describe("normalisation", () => {
  it("time values are zero-padded, weekdays sorted and unique, in the view", () => {
    const p = parsePolicy("rules:\n  - conditions: {time_after: '9:05', weekdays: [5, 1, 5]}\n");
    assert.deepEqual(p.view.rules[0]!.conditions, { time_after: "09:05", weekdays: [1, 5] });
  });
  it("aliases resolve like their anchors", () => {
    const p = parsePolicy(
      "x: &c {param_gt: {n: 1}}\n".replace("x:", "rules:\n  - conditions:") + "  - conditions: *c\n",
    );
    assert.deepEqual(p.view.rules[1]!.conditions, { param_gt: { n: 1 } });
  });
});
