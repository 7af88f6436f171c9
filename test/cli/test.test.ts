// `aegis test` and `aegis diff` as a user runs them: exit codes, failure lines with the case's
// line, JUnit XML, the clock and agent of a case, suite and policy errors printed as `validate`
// prints them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cliPath, repoRoot } from "../support/paths.js";

const dir = mkdtempSync(join(tmpdir(), "aegis-test-cmd-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function aegis(args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8", cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const POLICY = file(
  "policy.yaml",
  [
    "rules:",
    "  - name: office_hours_payments",
    "    match: {type: pay, agent: billing-*}",
    '    conditions: {time_after: "09:00", time_before: "17:00", param_lte: {amount: 100}}',
    "    approval: auto",
    "  - name: pay_review",
    "    match: {type: pay}",
    "    risk_level: high",
    "    approval: approve",
    "",
  ].join("\n"),
);

describe("aegis test", () => {
  it("the shipped example suite passes against the shipped policy", () => {
    const r = aegis([
      "test",
      join(repoRoot, "examples/policy.yaml"),
      join(repoRoot, "examples/policy-tests.yaml"),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^4 test\(s\) passed\n$/);
  });

  it("agent and clock per case decide; failures print the case's line; exit 1; JUnit XML", () => {
    const suite = file(
      "suite.yaml",
      [
        "tests:",
        "  - name: in hours by the billing bot",
        "    action: {action_type: pay, params: {amount: 50}}",
        "    agent_id: billing-bot",
        '    now: "2026-03-02T10:00:00Z"',
        "    expect: {approval: auto, rule: office_hours_payments}",
        "  - name: at night it needs review",
        "    action: {action_type: pay, params: {amount: 50}, agent_id: billing-bot}",
        '    now: "2026-03-02T23:00:00Z"',
        "    expect: {approval: approve, risk_level: HIGH}",
        "  - name: a wrong expectation <&>",
        "    action: {action_type: pay, params: {amount: 50}}",
        "    expect: {approval: auto}",
        "  - name: a string amount is refused",
        '    action: {action_type: pay, params: {amount: "lots"}, agent_id: billing-bot}',
        '    now: "2026-03-02T10:00:00Z"',
        "    expect: {error: amount}",
        "",
      ].join("\n"),
    );
    const junit = join(dir, "out.xml");
    const r = aegis(["test", POLICY, suite, "--junit", junit]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(
      r.stdout,
      `${suite}:11: case "a wrong expectation <&>": expected approval auto, got HIGH/approve by rule pay_review\n` +
        "1 of 4 test(s) failed\n",
    );
    const xml = readFileSync(junit, "utf8");
    assert.match(xml, /<testsuite name="[^"]*suite\.yaml" tests="4" failures="1" errors="0"/);
    assert.match(xml, /<testcase name="a wrong expectation &lt;&amp;&gt;"[^>]*>\s*<failure message="/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 4);
    assert.equal((xml.match(/<failure /g) ?? []).length, 1);
  });

  it("a suite problem points at its line and column; a policy problem prints as validate prints it", () => {
    const bad = file(
      "bad-suite.yaml",
      "tests:\n  - name: x\n    action: {action_typ: pay}\n    expect: {approval: sometimes}\n",
    );
    const r = aegis(["test", POLICY, bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad-suite\.yaml:3:\d+: tests\[0\]\.action\.action_typ: unknown key "action_typ"/);
    assert.match(
      r.stderr,
      /bad-suite\.yaml:4:\d+: tests\[0\]\.expect\.approval: must be one of auto, approve, block/,
    );
    assert.match(r.stderr, /invalid test suite\n$/);

    const badPolicy = file("bad-policy.yaml", "rules:\n  - name: x\n    approval: maybe\n");
    const t = aegis(["test", badPolicy, bad]);
    const v = aegis(["validate", badPolicy]);
    assert.equal(t.code, 1);
    assert.equal(v.code, 1);
    assert.equal(t.stderr, v.stderr, "one loader, one way of printing");
    assert.match(t.stderr, /bad-policy\.yaml:3:\d+: rules\[0\]\.approval/);

    assert.equal(aegis(["test", POLICY]).code, 1);
    assert.match(aegis(["test", POLICY, join(dir, "none.yaml")]).stderr, /cannot read .*none\.yaml/);
    assert.match(aegis(["test", POLICY, file("e.yaml", "tests: []\n")]).stderr, /no test cases/);
  });
});

describe("aegis diff", () => {
  it("prints rules added, removed and changed field by field; --exit-code: 1 when they differ", () => {
    const to = file(
      "to.yaml",
      [
        "defaults: {approval: auto}",
        "rules:",
        "  - name: pay_review",
        "    match: {type: pay}",
        "    risk_level: critical",
        "    approval: approve",
        "  - name: reads",
        "    match: {type: read*}",
        "",
      ].join("\n"),
    );
    const r = aegis(["diff", POLICY, to]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(aegis(["diff", POLICY, to, "--exit-code"]).code, 1);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), [
      '~ default_approval: "block" -> "auto"',
      "- office_hours_payments (pay -> MEDIUM/auto)",
      "+ reads (read* -> MEDIUM/approve)",
      '~ pay_review: risk_level: "HIGH" -> "CRITICAL"',
    ]);
    const same = aegis(["diff", POLICY, POLICY]);
    assert.equal(same.code, 0);
    assert.equal(same.stdout, "no changes\n");
    assert.equal(aegis(["diff", POLICY, POLICY, "--exit-code"]).code, 0);
    assert.equal(aegis(["diff", POLICY]).code, 1);
  });
});
