// The keys file is validated like a policy: every problem with its line and column; keys never
// appear in messages.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KeysFileError, parseKeysFile, sha256Hex } from "../../src/identity/index.js";

function problems(text: string): string[] {
  try {
    parseKeysFile(text);
  } catch (err) {
    assert.ok(err instanceof KeysFileError);
    return err.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
  }
  assert.fail("expected a KeysFileError");
}

test("a valid file: hashed and plain keys, bound and unbound agents", () => {
  const f = parseKeysFile(
    `- name: a\n  sha256: ${sha256Hex("k".repeat(20)).toUpperCase()}\n  role: agent\n  agent_id: "bot-*"\n- name: b\n  key: ${"z".repeat(20)}\n  role: admin\n`,
  );
  assert.equal(f.entries.length, 2);
  assert.equal(f.entries[0]?.digest, sha256Hex("k".repeat(20)));
  assert.equal(f.entries[0]?.principal.agentBinding?.plain, undefined, "a glob is not a plain id");
  assert.ok(f.entries[0]?.principal.agentBinding?.glob.test("bot-7"));
  assert.equal(f.warnings.length, 1);
  assert.equal(parseKeysFile("").entries.length, 0);
});

test("every problem, with its position", () => {
  const found = problems(
    [
      "- name: a", //
      "  sha256: 1234",
      "  role: agent",
      "- name: a",
      `  key: ${"x".repeat(20)}`,
      "  role: boss",
      "- name: c",
      `  key: ${"x".repeat(20)}`,
      "  role: approver",
      "  agent_id: c",
      "- name: d",
      "  role: agent",
      "  colour: red",
    ].join("\n"),
  );
  assert.deepEqual(found, [
    "2:11 sha256 must be 64 hexadecimal characters (the SHA-256 of the key)",
    '4:9 duplicate name "a" (also [0])',
    '6:9 role must be agent, approver or admin, got "boss"',
    "10:3 agent_id binds agent keys only (role: agent)",
    '13:3 unknown key "colour" (expected name, sha256, key, role, agent_id)',
    "11:3 sha256 (or key) is required",
  ]);
});

test("not a list, short keys, duplicate keys; the key itself never shows", () => {
  assert.match(problems("principals: []")[0] ?? "", /must be a list of principals/);
  const secret = "short";
  const msgs = problems(`- {name: a, key: ${secret}, role: agent}`);
  assert.match(msgs[0] ?? "", /at least 16 characters/);
  assert.ok(!msgs.join().includes(secret));
  const dup = problems(
    `- {name: a, key: ${"q".repeat(20)}, role: agent}\n- {name: b, sha256: ${sha256Hex("q".repeat(20))}, role: agent}`,
  );
  assert.match(dup[0] ?? "", /the same key as \[0\] \(a\)/);
});
