import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parsePolicy } from "../../src/policy/index.js";
import { cliPath } from "../support/paths.js";

const dir = mkdtempSync(join(tmpdir(), "aegis-init-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function aegis(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8", cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("aegis init", () => {
  it("writes a commented starter policy that validates and decides as promised", () => {
    const file = join(dir, "starter.yaml");
    const r = aegis(["init", "-o", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /starter\.yaml/);
    const text = readFileSync(file, "utf8");
    assert.match(text, /^#/m);
    const p = parsePolicy(text);
    const decide = (actionType: string) => {
      const d = p.evaluate({ actionType, target: "x", params: {} });
      return `${d.approval}`;
    };
    const table: [string, string][] = [
      ["read_file", "auto"],
      ["get_user", "auto"],
      ["write_file", "approve"],
      ["delete_user", "block"],
      ["exec_shell", "block"],
      ["something_else", "block"],
    ];
    for (const [type, approval] of table) assert.equal(decide(type), approval, type);
    assert.equal(p.view.default_approval, "block");
    const v = aegis(["validate", file]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^Policy valid: \d+ rule\(s\)/);
  });

  it("defaults to ./policy.yaml", () => {
    const sub = mkdtempSync(join(dir, "cwd-"));
    const r = aegis(["init"], sub);
    assert.equal(r.code, 0, r.stderr);
    parsePolicy(readFileSync(join(sub, "policy.yaml"), "utf8"));
  });

  it("refuses to overwrite an existing file", () => {
    const file = join(dir, "existing.yaml");
    writeFileSync(file, "keep me\n");
    const r = aegis(["init", "-o", file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists/);
    assert.equal(readFileSync(file, "utf8"), "keep me\n");
  });

  it("-o - prints the policy", () => {
    const r = aegis(["init", "-o", "-"]);
    assert.equal(r.code, 0);
    assert.ok(parsePolicy(r.stdout).ruleCount > 0);
  });

  const bad: [string[], RegExp][] = [
    [["init", "-o"], /needs a file name/],
    [["init", "--bogus"], /unknown option --bogus/],
    [["init", "-o", "/nonexistent-dir/x.yaml"], /cannot write/],
  ];
  for (const [args, message] of bad) {
    it(`error: ${args.join(" ")}`, () => {
      const r = aegis(args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.equal(
        r.stderr
          .trimEnd()
          .split("\n")
          .filter((l) => /^\s+at /.test(l)).length,
        0,
      );
    });
  }
});
