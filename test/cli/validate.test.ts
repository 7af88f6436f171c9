import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cliPath, examplesDir, fixturesDir } from "../support/paths.js";

function aegis(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("aegis validate", () => {
  const table: [file: string, rules: string[]][] = [
    [
      join(examplesDir, "policy.yaml"),
      [
        "- read_auto: read*@* -> LOW/auto",
        "- write_approve: write*@* -> MEDIUM/approve",
        "- delete_block: delete*@* -> CRITICAL/block",
      ],
    ],
    [
      join(examplesDir, "ecommerce.yaml"),
      [
        "- product_search: search_*@catalog -> LOW/auto",
        "- cart_operations: cart_*@session -> LOW/auto",
        "- place_order: place_order@* -> MEDIUM/approve",
        "- block_large_orders: place_order@* -> CRITICAL/block",
        "- refund: refund@* -> HIGH/approve",
      ],
    ],
    [
      join(fixturesDir, "policy", "conditions.yaml"),
      ["- big_payments: pay*@acct/* -> CRITICAL/block", "- small_payments: pay*@* -> MEDIUM/approve"],
    ],
  ];
  for (const [file, rules] of table) {
    it(`valid: ${file.split("/").pop()}`, () => {
      const r = aegis("validate", file);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trimEnd().split("\n"), [`Policy valid: ${rules.length} rule(s)`, ...rules]);
      assert.equal(r.stderr, "");
    });
  }

  it("invalid: every error as file:line:col: message, exit 1", () => {
    const file = join(fixturesDir, "policy", "invalid.yaml");
    const r = aegis("validate", file);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(lines[0]!, new RegExp(`^${file}:4:13: defaults\\.approval: .*did you mean "block"`));
    assert.match(lines[1]!, new RegExp(`^${file}:14:19: rules\\[1\\]\\.conditions\\.time_after: .*HH:MM`));
    assert.match(lines[2]!, new RegExp(`^${file}:15:5: rules\\[1\\]\\.aproval: .*did you mean "approval"`));
    assert.match(lines[3]!, /invalid policy \(3 problems\)/);
    assert.equal(lines.length, 4);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });

  it("warnings are printed, the policy is still valid", () => {
    const file = join(fixturesDir, "policy", "with-warning.yaml");
    const r = aegis("validate", file);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Policy valid: 1 rule\(s\)\n- never: night_\*@\* -> MEDIUM\/auto\n$/);
    assert.match(
      r.stderr,
      new RegExp(`^${file}:7:20: warning: rules\\[0\\]\\.conditions\\.time_before: .*window is empty`),
    );
  });

  it("a missing file is one clear line, exit 1", () => {
    const r = aegis("validate", "/nonexistent/policy.yaml");
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "aegis validate: cannot read /nonexistent/policy.yaml: no such file\n");
  });

  it("a directory is one clear line, exit 1", () => {
    const r = aegis("validate", fixturesDir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  });

  it("no file argument is a usage error", () => {
    const r = aegis("validate");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Usage: aegis validate POLICY/);
  });
});
