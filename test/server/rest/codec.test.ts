// The seed's REST JSON: body forms of evaluate/execute, field validation, and the shapes of answers.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AegisError } from "../../../src/errors.js";
import {
  decodeAction,
  decodeActionBody,
  decodeBatchBody,
  decodePolicyUpdate,
  encodeError,
  parseJson,
} from "../../../src/server/rest/codec.js";

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AegisError && err.code === "invalid_argument", String(err));
    return err.message;
  }
  assert.fail("expected invalid_argument");
}

describe("REST codec", () => {
  test("one action, {actions}, or a bare array; actions wins over top-level fields", () => {
    const one = decodeActionBody({ action_type: "read", target: "crm" });
    assert.equal(one.batch, false);
    assert.deepEqual(one.batch === false && one.action.target, "crm");
    const wrapped = decodeActionBody({ action_type: "x", actions: [{ type: "read" }] });
    assert.ok(wrapped.batch && wrapped.actions[0]?.actionType === "read");
    const bare = decodeActionBody([]);
    assert.ok(bare.batch && bare.actions.length === 0);
    assert.deepEqual(decodeBatchBody({ actions: [{ action_type: "a" }] }).length, 1);
  });

  test("defaults: target '', params {}, empty strings as absent", () => {
    const a = decodeAction({ action_type: "read", params: null, agent_id: "" }, undefined);
    assert.equal(a.target, "");
    assert.deepEqual(a.params, {});
    assert.equal(a.agentId, undefined);
  });

  test("errors name the item and the field", () => {
    assert.equal(
      message(() => decodeAction({}, undefined)),
      "action_type is required",
    );
    assert.equal(
      message(() => decodeAction({ action_type: "" }, 2)),
      "actions[2]: action_type must not be empty",
    );
    assert.equal(
      message(() => decodeAction({ action_type: "a", target: 3 }, undefined)),
      "target must be a string, got a number",
    );
    assert.equal(
      message(() => decodeAction({ action_type: "a", params: [] }, 1)),
      "actions[1]: params must be a JSON object, got an array",
    );
    assert.equal(
      message(() => decodeAction({ action_type: "a", chain_depth: "2" }, undefined)),
      "chain_depth must be an integer, got a string",
    );
    assert.equal(
      message(() => decodeActionBody("x")),
      "Request body must be a JSON object (an action) or an array of actions, got a string",
    );
    assert.equal(
      message(() => parseJson("{")),
      "Invalid JSON",
    );
    assert.match(
      message(() => decodePolicyUpdate({ nothing: 1 })),
      /"yaml"/,
    );
  });

  test("policy updates: {yaml} or a policy object", () => {
    assert.deepEqual(decodePolicyUpdate({ yaml: "" }), { yaml: "" });
    assert.deepEqual(decodePolicyUpdate({ rules: [] }), { document: { rules: [] } });
    assert.equal(encodeError('a "b"'), '{"error":"a \\"b\\""}');
  });
});
