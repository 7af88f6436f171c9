import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
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

describe("aegis validate on hostile policies", () => {
  const dir = mkdtempSync(join(tmpdir(), "aegis-validate-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  /** Control characters, DEL, C1 and bidi controls: what could forge lines or drive a terminal. */
  const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  it("rule names and globs cannot forge output lines or terminal escapes", () => {
    const file = write(
      "names.yaml",
      [
        "rules:",
        '  - name: "ok\\nPolicy valid: 99 rule(s)\\u001b[2J"',
        '    match: {type: "t\\u202e*", target: "x\\ny"}',
        '  - name: "\\u0085\\u007f\\u2066"',
        "",
      ].join("\n"),
    );
    const r = aegis("validate", file);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 3, r.stdout);
    assert.equal(lines[0], "Policy valid: 2 rule(s)");
    assert.equal(
      lines[1],
      "- ok\\u000aPolicy valid: 99 rule(s)\\u001b[2J: t\\u202e*@x\\u000ay -> MEDIUM/approve",
    );
    assert.doesNotMatch(r.stdout.trimEnd(), UNSAFE);
  });

  it("problems about hostile names, keys and values stay one line each", () => {
    const evil = "\\u001b[31m\\nfake.yaml:1:1: fine\\u202e";
    const file = write(
      "problems.yaml",
      [
        "rules:",
        `  - name: "${evil}"`,
        `  - name: "${evil}"`,
        `    "${evil}": 1`,
        "    conditions:",
        `      param_matches: {q: "(${evil}"}`,
        `      param_gt: {"${evil}": [1]}`,
        "",
      ].join("\n"),
    );
    const r = aegis("validate", file);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 5, r.stderr);
    for (const line of lines) assert.ok(line.startsWith(`${file}:`), line);
    assert.match(lines[4]!, /invalid policy \(4 problems\)$/);
    assert.doesNotMatch(r.stderr.trimEnd(), UNSAFE);
    assert.doesNotMatch(r.stderr, /\[object |function /);
  });

  it("an astral-range glob validates (it used to crash without a position)", () => {
    const file = write(
      "astral.yaml",
      'rules:\n  - name: emoji\n    match: {type: "[😀-\uE000]*", target: "[😀-😂]"}\n',
    );
    const r = aegis("validate", file);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Policy valid: 1 rule(s)\n- emoji: [😀-\uE000]*@[😀-😂] -> MEDIUM/approve\n");
  });

  it("tags, NaN, deep nesting and over-long globs are positioned problems", () => {
    const file = write(
      "odd.yaml",
      [
        "rules:",
        "  - conditions: {param_eq: {a: .nan}}",
        `  - match: {type: "${"?".repeat(1001)}"}`,
        "",
      ].join("\n"),
    );
    const r = aegis("validate", file);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(
      lines[0]!,
      new RegExp(`^${file}:2:32: rules\\[0\\]\\.conditions\\.param_eq\\.a: NaN is not a number`),
    );
    assert.match(lines[1]!, new RegExp(`^${file}:3:19: rules\\[1\\]\\.match\\.type: .*at most 1000`));
    const tagged = write("tag.yaml", "rules: !!set {a}\n");
    assert.match(
      aegis("validate", tagged).stderr,
      new RegExp(`^${tagged}:1:8: YAML: tag "!!set" is not supported`),
    );
    const deep = write("deep.yaml", `rules: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    const d = aegis("validate", deep);
    assert.equal(d.code, 1);
    assert.match(
      d.stderr,
      new RegExp(`^${deep}:1:107: YAML: the policy is nested more than 100 levels deep\n`),
    );
  });
});
