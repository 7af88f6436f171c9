import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PolicyLoadError, type PolicyProblem, parsePolicy } from "../../src/policy/index.js";

function problemsOf(load: () => unknown): readonly PolicyProblem[] {
  try {
    load();
  } catch (e) {
    if (e instanceof PolicyLoadError) return e.problems;
    throw e;
  }
  assert.fail("the policy loaded but should not have");
}

describe("YAML tags that do not produce plain JSON data are refused with line and column", () => {
  // [label, yaml, line, column]: the position is the tag's own.
  const table: [string, string, number, number][] = [
    ["!!set", "rules:\n  - conditions: !!set {a, b}\n", 2, 17],
    ["!!omap", "rules:\n  - conditions: !!omap [{param_eq: {a: 1}}]\n", 2, 17],
    ["!!pairs", "rules:\n  - conditions: !!pairs [{param_eq: {a: 1}}]\n", 2, 17],
    ["!!timestamp", "rules:\n  - conditions: {param_eq: {d: !!timestamp 2001-12-14}}\n", 2, 32],
    ["!!binary", "rules:\n  - conditions: {param_eq: {d: !!binary aGVsbG8=}}\n", 2, 32],
    ["a custom tag", "rules:\n  - name: !foo x\n", 2, 11],
    ["a non-specific tag", "rules:\n  - name: ! x\n", 2, 11],
    ["a verbatim non-core tag", "rules:\n  - name: !<tag:example.com,2000:x> x\n", 2, 11],
    ["!!set in a YAML 1.1 document", "%YAML 1.1\n---\nrules:\n  - conditions: !!set {a, b}\n", 4, 17],
    ["!!omap in a YAML 1.1 document", "%YAML 1.1\n---\nrules: !!omap [{a: 1}]\n", 3, 8],
    ["!!binary in a YAML 1.1 document", "%YAML 1.1\n---\nrules:\n  - name: !!binary aGk=\n", 4, 11],
    ["a tag on a key", "rules:\n  - !!binary aGk=: x\n", 2, 5],
  ];
  for (const [label, yaml, line, column] of table) {
    it(label, () => {
      const problems = problemsOf(() => parsePolicy(yaml));
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0]!.message, /^YAML: tag ".*" is not supported: a policy is plain data/);
      assert.deepEqual([problems[0]!.line, problems[0]!.column], [line, column]);
    });
  }
  it("a YAML 1.1 implicit timestamp is refused (it would become a Date)", () => {
    const problems = problemsOf(() =>
      parsePolicy("%YAML 1.1\n---\nrules:\n  - conditions: {param_eq: {d: 2001-12-14}}\n"),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /timestamp.*quote it/);
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [4, 32]);
  });
  it("%TAG directives are refused (they would let !!str mean anything)", () => {
    const problems = problemsOf(() => parsePolicy("%TAG !! tag:example.com,2000:\n---\nrules: []\n"));
    assert.match(problems[0]!.message, /%TAG directives are not supported/);
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [1, 1]);
  });
  it("the core tags that yield plain data still work", () => {
    const p = parsePolicy(
      "rules:\n  - name: !!str 42\n    conditions: !!map {param_eq: !!map {n: !!int '5', f: !!float '1.5', b: !!bool 'true', z: !!null ''}}\n  - name: !<tag:yaml.org,2002:str> v\n",
    );
    assert.deepEqual(p.view.rules[0]!.conditions, { param_eq: { n: 5, f: 1.5, b: true, z: null } });
    assert.equal(p.view.rules[0]!.name, "42");
    assert.equal(p.view.rules[1]!.name, "v");
  });
});

describe("odd YAML", () => {
  it("a list or mapping as a key is refused with its position", () => {
    const problems = problemsOf(() => parsePolicy("rules:\n  - ? [a, b]\n    : 1\n"));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /mapping key must be a string/);
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [2, 7]);
  });
  it("keys that are equal as strings are duplicates (1 and '1', ~ and '')", () => {
    for (const yaml of [
      "rules:\n  - conditions:\n      param_eq: {1: a, '1': b}\n",
      "rules:\n  - conditions:\n      param_eq: {~: a, '': b}\n",
    ]) {
      const problems = problemsOf(() => parsePolicy(yaml));
      assert.equal(problems.length, 1);
      assert.match(problems[0]!.message, /YAML: Map keys must be unique/);
      assert.equal(problems[0]!.line, 3);
    }
  });
  it("an alias without an anchor is a positioned problem", () => {
    const problems = problemsOf(() => parsePolicy("rules:\n  - *nothing\n"));
    assert.ok(problems.length >= 1);
    assert.equal(problems[0]!.line, 2);
  });
  it("more than 100 aliases are refused (each costs the library a scan of the earlier ones)", () => {
    const lines = ["rules:"];
    for (let i = 0; i < 101; i++) lines.push(`  - &a${i} {name: r${i}}`, `  - *a${i}`);
    const problems = problemsOf(() => parsePolicy(`${lines.join("\n")}\n`));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /more than 100 aliases/);
    assert.equal(problems[0]!.line, 203);
  });
  it("YAML 1.1 merge keys still work", () => {
    const p = parsePolicy(
      "%YAML 1.1\n---\nrules:\n  - &base {name: r, match: {type: a}, approval: block}\n  - {<<: *base, name: r2}\n",
    );
    assert.deepEqual(
      p.view.rules.map((r) => [r.name, r.match_type, r.approval]),
      [
        ["r", "a", "block"],
        ["r2", "a", "block"],
      ],
    );
  });
});

describe("YAML parsing cost", () => {
  it("a mapping with 40,000 keys loads in linear time (the library's duplicate check is quadratic: 14 s)", () => {
    const yaml = `rules:\n  - conditions:\n      param_eq:\n${Array.from({ length: 40_000 }, (_, i) => `        k${i}: 1`).join("\n")}\n`;
    const started = performance.now();
    const p = parsePolicy(yaml);
    const elapsed = performance.now() - started;
    assert.equal(Object.keys(p.view.rules[0]!.conditions!["param_eq"] as object).length, 40_000);
    assert.ok(elapsed < 6000, `${elapsed.toFixed(0)} ms`);
  });
});
