// The answer to PUT /api/v1/policy is the seed's `{status, rule_count}` plus the version it made
// (when a version store runs) and the policy's hash. Checks those two and returns the seed's part.
import assert from "node:assert/strict";

export function seedPolicyAnswer(json: unknown): Record<string, unknown> {
  const { hash, version, ...seed } = json as Record<string, unknown>;
  assert.match(String(hash), /^[0-9a-f]{64}$/, "the answer carries the policy's hash");
  if (version !== undefined) {
    assert.ok(Number.isSafeInteger(version) && (version as number) > 0, `version id ${String(version)}`);
  }
  return seed;
}
