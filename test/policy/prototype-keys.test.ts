import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compilePolicyObject,
  type Policy,
  PolicyLoadError,
  type PolicyProblem,
  parsePolicy,
} from "../../src/policy/index.js";

// `__proto__`, `constructor` and `prototype` are ordinary keys in JSON and YAML. JSON.parse makes
// `__proto__` an own property; `obj[key] = value` on it would instead replace obj's prototype.
const KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty"];

const fromJson = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const decide = (p: Policy, params: Record<string, unknown>): string =>
  p.evaluate({ actionType: "a", target: "", params }).matchedRule;

function problemsOf(load: () => unknown): readonly PolicyProblem[] {
  try {
    load();
  } catch (e) {
    if (e instanceof PolicyLoadError) return e.problems;
    throw e;
  }
  assert.fail("the policy loaded but should not have");
}

describe("prototype-named keys are ordinary keys end to end", () => {
  for (const key of KEYS) {
    const k = JSON.stringify(key);
    it(`param_eq: {${key}: 1} (JSON body): normalised, shown, hashed and evaluated as a key`, () => {
      const p = compilePolicyObject(fromJson(`{"rules":[{"name":"r","conditions":{"param_eq":{${k}:1}}}]}`));
      const eq = p.view.rules[0]!.conditions!["param_eq"] as Record<string, unknown>;
      assert.deepEqual(Object.keys(eq), [key]);
      assert.equal(Object.getPrototypeOf(eq), Object.prototype);
      assert.equal(JSON.stringify(p.view.rules[0]!.conditions), `{"param_eq":{${k}:1}}`);
      assert.notEqual(
        p.hash,
        compilePolicyObject({ rules: [{ name: "r", conditions: { param_eq: {} } }] }).hash,
      );
      assert.equal(decide(p, fromJson(`{${k}:1}`)), "r");
      assert.equal(decide(p, fromJson(`{${k}:2}`)), "<default>");
      assert.equal(decide(p, {}), "<default>", "an inherited property is not a param");
    });
    it(`param_contains: {${key}: "x"} and a param_contains value ${k} on an object param`, () => {
      const p = compilePolicyObject(
        fromJson(`{"rules":[{"name":"r","conditions":{"param_contains":{${k}:"x", "h": ${k}}}}]}`),
      );
      assert.equal(decide(p, fromJson(`{${k}:["x"],"h":{${k}:0}}`)), "r");
      assert.equal(decide(p, fromJson(`{${k}:["x"],"h":{}}`)), "<default>", "inherited, not own");
    });
    it(`YAML: param_eq {${key}: 1}`, () => {
      const p = parsePolicy(`rules:\n  - name: r\n    conditions:\n      param_eq: {${key}: 1}\n`);
      assert.deepEqual(Object.keys(p.view.rules[0]!.conditions!["param_eq"] as object), [key]);
      assert.equal(decide(p, fromJson(`{${k}:1}`)), "r");
    });
  }
  it("a param_eq value that is an object with a __proto__ key compares as JSON", () => {
    const p = compilePolicyObject(
      fromJson('{"rules":[{"name":"r","conditions":{"param_eq":{"o":{"__proto__":{"admin":true},"a":1}}}}]}'),
    );
    const o = (p.view.rules[0]!.conditions!["param_eq"] as Record<string, Record<string, unknown>>)["o"]!;
    assert.deepEqual(Object.keys(o), ["__proto__", "a"]);
    assert.equal(Object.getPrototypeOf(o), Object.prototype, "the prototype was not replaced");
    assert.equal((o as { admin?: unknown }).admin, undefined, "nothing was grafted on");
    assert.equal(decide(p, fromJson('{"o":{"a":1,"__proto__":{"admin":true}}}')), "r");
    assert.equal(decide(p, fromJson('{"o":{"a":1}}')), "<default>");
    assert.equal(
      decide(p, { o: { a: 1 } }),
      "<default>",
      "a literal's __proto__ is its prototype, not a key",
    );
  });
  it("hashes tell {__proto__: {...}} from {}", () => {
    const h = (text: string) => compilePolicyObject(fromJson(text)).hash;
    assert.notEqual(
      h('{"rules":[{"conditions":{"param_eq":{"o":{"__proto__":{"a":1}}}}}]}'),
      h('{"rules":[{"conditions":{"param_eq":{"o":{}}}}]}'),
    );
  });
  it("the loaded policy does not keep references to (or pollute) the input", () => {
    const doc = fromJson('{"rules":[{"name":"r","conditions":{"param_eq":{"o":{"a":1}}}}]}');
    const p = compilePolicyObject(doc);
    (
      (doc["rules"] as Record<string, unknown>[])[0]!["conditions"] as Record<
        string,
        Record<string, Record<string, number>>
      >
    )["param_eq"]!["o"]!["a"] = 2;
    assert.equal(decide(p, { o: { a: 1 } }), "r");
    assert.equal(({} as Record<string, unknown>)["a"], undefined);
    assert.ok(Object.isFrozen(p.view.rules[0]!.conditions));
  });
  for (const key of KEYS) {
    it(`an unknown key ${JSON.stringify(key)} is reported as that key (no [object Object], no function source)`, () => {
      const k = JSON.stringify(key);
      const problems = problemsOf(() =>
        compilePolicyObject(
          fromJson(`{${k}:1,"rules":[{${k}:1,"conditions":{${k}:1},"match":{${k}:1}}],"defaults":{${k}:1}}`),
        ),
      );
      assert.deepEqual(
        problems.map((p) => p.path).sort(),
        [
          key,
          `rules[0].${key}`,
          `rules[0].conditions.${key}`,
          `rules[0].match.${key}`,
          `defaults.${key}`,
        ].sort(),
      );
      assert.equal(problems.length, 5);
      for (const p of problems) {
        assert.ok(p.message.includes(k), p.message);
        assert.doesNotMatch(p.message, /\[object|function|native code|=>/);
      }
    });
  }
  it("a rule named __proto__ or constructor is an ordinary name", () => {
    const p = compilePolicyObject({
      rules: [
        { name: "__proto__", match: { type: "a" } },
        { name: "constructor", match: { type: "b" } },
      ],
    });
    assert.deepEqual(
      p.view.rules.map((r) => r.name),
      ["__proto__", "constructor"],
    );
    assert.equal(p.evaluate({ actionType: "b", target: "", params: {} }).matchedRule, "constructor");
  });
});
