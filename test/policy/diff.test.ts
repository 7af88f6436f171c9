// diffPolicies: what the API's policy:diff and `aegis diff` report.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { diffPolicies, formatDiff, parsePolicy } from "../../src/policy/index.js";

const view = (yaml: string) => parsePolicy(yaml).view;

describe("diffPolicies", () => {
  test("identical policies (even written differently) have no differences", () => {
    const a = view('rules:\n  - name: r\n    match: {type: "read*"}\n    approval: auto\n');
    const b = view(
      '# same\nrules: [{name: r, match: {type: "read*"}, approval: auto, risk_level: medium}]\n',
    );
    assert.deepEqual(diffPolicies(a, b), { defaults: [], added: [], removed: [], changed: [] });
  });

  test("a reorder is a change (first match wins); conditions compare as data", () => {
    const a = view(
      "rules:\n  - name: one\n    match: {type: a}\n  - name: two\n    match: {type: b}\n    conditions: {param_gt: {amount: 100}}\n",
    );
    const b = view(
      "rules:\n  - name: two\n    match: {type: b}\n    conditions: {param_gt: {amount: 50}}\n  - name: one\n    match: {type: a}\n",
    );
    const d = diffPolicies(a, b);
    assert.deepEqual(
      d.changed.map((c) => [c.name, c.fields.map((f) => f.field)]),
      [
        ["two", ["conditions", "position"]],
        ["one", ["position"]],
      ],
    );
    const lines = formatDiff(d);
    assert.ok(
      lines.includes('~ two: conditions: {"param_gt":{"amount":100}} -> {"param_gt":{"amount":50}}'),
      lines.join("\n"),
    );
    assert.ok(lines.includes("~ one: position: 0 -> 1"));
  });

  test("names holding control characters cannot forge lines", () => {
    const a = view("rules: []\n");
    const b = view('rules:\n  - name: "x\\nforged"\n    match: {type: a}\n');
    const lines = formatDiff(diffPolicies(a, b));
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]?.includes("\n"));
  });
});
