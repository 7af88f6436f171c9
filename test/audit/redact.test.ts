import assert from "node:assert/strict";
import { test } from "node:test";
import { isSecretKey, REDACTED, redact, redactParams, SECRET_KEY_MARKERS } from "../../src/audit/redact.js";

test("every marker of DESIGN §5 is a secret, by case-insensitive substring", () => {
  assert.deepEqual(
    [...SECRET_KEY_MARKERS].sort(),
    [
      "access_key",
      "api_key",
      "apikey",
      "authorization",
      "credential",
      "password",
      "private_key",
      "secret",
      "token",
    ].sort(),
  );
  for (const key of [
    "password",
    "PASSWORD",
    "db_Password_hash",
    "client_secret",
    "tokens_used",
    "refreshToken",
    "X-API_KEY",
    "myApiKey",
    "Authorization",
    "proxy-authorization",
    "credentials",
    "ssh_private_key",
    "AWS_ACCESS_KEY_ID",
  ]) {
    assert.ok(isSecretKey(key), key);
  }
  for (const key of ["user", "path", "api", "key", "pass", "tok", "author", "private", "access"]) {
    assert.ok(!isSecretKey(key), key);
  }
});

test("redacts at any depth, inside arrays, whatever the value's type; leaves the input alone", () => {
  const input = {
    user: "bob",
    password: { nested: "object" },
    list: [{ token: 1 }, { keep: [{ Secret: null }, "plain"] }, ["x", { apikey: ["a"] }]],
    deep: { deeper: { authorization: "Bearer x", count: 2 } },
    n: 1,
    b: false,
    z: null,
  };
  const copy = structuredClone(input);
  assert.deepEqual(redactParams(input), {
    user: "bob",
    password: REDACTED,
    list: [{ token: REDACTED }, { keep: [{ Secret: REDACTED }, "plain"] }, ["x", { apikey: REDACTED }]],
    deep: { deeper: { authorization: REDACTED, count: 2 } },
    n: 1,
    b: false,
    z: null,
  });
  assert.deepEqual(input, copy, "input not modified");
  assert.deepEqual(redact([{ password: "p" }]), [{ password: REDACTED }]);
  assert.equal(redact("password"), "password", "values are not keys");
});

test("__proto__ stays an own key of the copy, with its value redacted like any other", () => {
  const input = JSON.parse(
    '{"__proto__": {"password": "p", "n": 1}, "constructor": {"token": "t"}}',
  ) as Record<string, unknown>;
  const out = redactParams(input);
  assert.ok(Object.hasOwn(out, "__proto__"));
  assert.equal(Object.getPrototypeOf(out), Object.prototype, "the prototype is untouched");
  assert.equal(
    JSON.stringify(out),
    `{"__proto__":{"password":"${REDACTED}","n":1},"constructor":{"token":"${REDACTED}"}}`,
  );
});
