// The validation every action passes before any rule is tried (src/governance/action-check.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AegisError } from "../../src/errors.js";
import {
  checkAction,
  DEFAULT_ACTION_LIMITS,
  MAX_CHAIN_DEPTH,
  storableText,
} from "../../src/governance/action-check.js";
import type { ActionRequest } from "../../src/governance/types.js";
import { unstorableJson } from "../../src/storage/index.js";

function action(over: Partial<ActionRequest> = {}): ActionRequest {
  return { actionType: "pay", target: "bank", params: {}, ...over };
}

function refused(a: ActionRequest, pattern: RegExp, index?: number, limits = DEFAULT_ACTION_LIMITS): void {
  assert.throws(
    () => checkAction(a, index, limits),
    (err: unknown) =>
      err instanceof AegisError && err.code === "invalid_argument" && pattern.test(err.message),
    `expected ${pattern}`,
  );
}

describe("checkAction", () => {
  test("an ordinary action passes", () => {
    checkAction(
      action({ params: { amount: 12.5, tags: ["a", { b: null }], ok: true }, chainDepth: 3, agentId: "bot" }),
      undefined,
      DEFAULT_ACTION_LIMITS,
    );
  });

  test("non-finite numbers are refused anywhere in params, naming the param", () => {
    refused(action({ params: { amount: Number.NaN } }), /^params\.amount is NaN: numbers must be finite/);
    refused(
      action({ params: { a: { b: [1, Number.POSITIVE_INFINITY] } } }),
      /^params\.a\.b\[1\] is Infinity/,
    );
    refused(action({ params: { "odd key": Number.NEGATIVE_INFINITY } }), /^params\["odd key"\] is -Infinity/);
    refused(action({ params: { amount: Number.NaN } }), /^actions\[4\]: params\.amount is NaN/, 4);
  });

  test("NUL characters and unpaired surrogates are refused in values and keys", () => {
    refused(action({ params: { note: "a\u0000b" } }), /^params\.note contains a NUL character/);
    refused(action({ params: { ["k\u0000"]: 1 } }), /has a key that contains a NUL character/);
    refused(action({ params: { note: "x\ud800y" } }), /^params\.note contains an unpaired UTF-16 surrogate/);
    refused(action({ description: "\udc00" }), /^description contains an unpaired/);
    refused(action({ agentId: "bot\u0000" }), /^agent_id contains a NUL/);
    refused(action({ target: "t\u0000" }), /^target contains a NUL/);
    refused(action({ actionType: "pay\u0000" }), /^action_type contains a NUL/);
    // A well-formed astral character is fine.
    checkAction(action({ params: { e: "😀" } }), undefined, DEFAULT_ACTION_LIMITS);
  });

  test("chain_depth must be a 32-bit non-negative integer", () => {
    refused(action({ chainDepth: -5 }), /^chain_depth must be an integer from 0 to 2147483647, got -5/);
    refused(action({ chainDepth: 1.5 }), /^chain_depth must be an integer/);
    refused(action({ chainDepth: MAX_CHAIN_DEPTH + 1 }), /^chain_depth must be an integer/);
    checkAction(action({ chainDepth: MAX_CHAIN_DEPTH }), undefined, DEFAULT_ACTION_LIMITS);
    checkAction(action({ chainDepth: 0 }), undefined, DEFAULT_ACTION_LIMITS);
  });

  test("size limits per field", () => {
    refused(action({ agentId: "a".repeat(257) }), /^agent_id is 257 characters long; at most 256/);
    refused(action({ sessionId: "s".repeat(300) }), /^session_id is 300 characters/);
    refused(action({ actionType: "t".repeat(257) }), /^action_type is 257 characters/);
    refused(action({ target: "t".repeat(4097) }), /^target is 4097 characters/);
    const limits = { maxParamsBytes: 1000, maxDescriptionBytes: 10 };
    refused(
      action({ description: "é".repeat(6) }),
      /^description is 12 bytes; at most 10/,
      undefined,
      limits,
    );
    refused(
      action({ params: { s: "x".repeat(2000) } }),
      /^params are \d+ bytes as JSON; at most 1000/,
      undefined,
      limits,
    );
    // Escapes count: 200 control characters are 1,200 bytes of JSON.
    refused(
      action({ params: { s: "\u0001".repeat(200) } }),
      /^params are \d+ bytes as JSON/,
      undefined,
      limits,
    );
    checkAction(action({ params: { s: "x".repeat(900) } }), undefined, limits);
  });

  test("params nested deeper than the JSON bound are refused", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 150; i++) deep = { d: deep };
    refused(action({ params: deep }), /^params are nested more than 100 levels deep/);
  });

  test("params that are not JSON values are refused", () => {
    refused(action({ params: { f: (() => 1) as unknown as string } }), /^params\.f is function/);
    refused(action({ params: [] as unknown as Record<string, unknown> }), /^params must be a JSON object/);
  });

  test("__proto__ and constructor are ordinary keys", () => {
    const params = JSON.parse('{"__proto__": {"amount": 1}, "constructor": "x"}') as Record<string, unknown>;
    checkAction(action({ params }), undefined, DEFAULT_ACTION_LIMITS);
    const bad = JSON.parse('{"__proto__": {"amount": "\\u0000"}}') as Record<string, unknown>;
    refused(action({ params: bad }), /^params\.__proto__\.amount contains a NUL/);
  });
});

describe("storable executor output", () => {
  test("unstorableJson finds NUL characters and surrogates at any depth", () => {
    assert.equal(unstorableJson({ a: [1, "ok", { b: null }] }), undefined);
    assert.match(unstorableJson({ a: [{ b: "\u0000" }] }) ?? "", /NUL/);
    assert.match(unstorableJson({ "\ud800": 1 }) ?? "", /surrogate/);
  });

  test("storableText replaces NUL and lone surrogates and bounds the length", () => {
    assert.equal(storableText("a\u0000b\ud800"), "a\uFFFDb\uFFFD");
    const long = storableText("x".repeat(20_000), 100);
    assert.ok(long.startsWith("x".repeat(100)));
    assert.match(long, /19900 more characters/);
  });
});
