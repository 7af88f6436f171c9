// Authentication: the environment's keys as before principals existed (DESIGN §3.1), principals
// from the keys file with their roles, and what each access level lets through.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AegisError } from "../../src/errors.js";
import {
  type HeaderGetter,
  KeyRing,
  parseKeysFile,
  presentedKey,
  sha256Hex,
} from "../../src/identity/index.js";

function key(k?: string): HeaderGetter {
  return (name) => (name === "x-api-key" ? k : undefined);
}

function code(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof AegisError ? err.code : `not an AegisError: ${String(err)}`;
  }
}

describe("KeyRing", () => {
  test("no keys: everything open, as the anonymous admin", () => {
    const ring = new KeyRing({});
    assert.equal(ring.open, true);
    assert.equal(ring.authenticate("admin", key()).name, "anonymous");
  });

  test("API key only: it is the admin key too", () => {
    const ring = new KeyRing({ apiKey: "api-key-0123456789" });
    assert.equal(ring.authenticate("admin", key("api-key-0123456789")).name, "api");
    assert.equal(
      code(() => ring.authenticate("agent", key())),
      "unauthenticated",
    );
    assert.equal(
      code(() => ring.authenticate("agent", key("wrong"))),
      "unauthenticated",
    );
    assert.equal(ring.authenticate("open", key()).name, "anonymous");
  });

  test("both keys: the API key is an agent key; admin routes need the admin key", () => {
    const ring = new KeyRing({ apiKey: "api-key-0123456789", adminKey: "admin-key-0123456789" });
    assert.equal(ring.authenticate("agent", key("api-key-0123456789")).role, "agent");
    assert.equal(
      code(() => ring.authenticate("admin", key("api-key-0123456789"))),
      "permission_denied",
    );
    assert.equal(ring.authenticate("agent", key("admin-key-0123456789")).name, "admin");
  });

  test("admin key only: agent access stays open, admin access needs the key", () => {
    const ring = new KeyRing({ adminKey: "admin-key-0123456789" });
    assert.equal(ring.authenticate("agent", key()).name, "anonymous");
    assert.equal(
      code(() => ring.authenticate("admin", key())),
      "unauthenticated",
    );
    assert.equal(ring.authenticate("admin", key("admin-key-0123456789")).name, "admin");
  });

  test("principals from the keys file: roles nest, names are kept", () => {
    const file = parseKeysFile(
      [
        "- name: billing-bot",
        `  sha256: ${sha256Hex("billing-key-0123456789")}`,
        "  role: agent",
        "  agent_id: billing-bot",
        "- name: alice",
        "  key: alice-key-0123456789",
        "  role: approver",
      ].join("\n"),
    );
    assert.equal(file.warnings.length, 1, "a plain key is a warning");
    const ring = new KeyRing({ adminKey: "admin-key-0123456789" }, file.entries);
    const bot = ring.authenticate("agent", key("billing-key-0123456789"));
    assert.equal(bot.name, "billing-bot");
    assert.equal(bot.agentBinding?.plain, "billing-bot");
    assert.equal(
      code(() => ring.authenticate("approver", key("billing-key-0123456789"))),
      "permission_denied",
    );
    assert.equal(ring.authenticate("approver", key("alice-key-0123456789")).name, "alice");
    assert.equal(
      code(() => ring.authenticate("admin", key("alice-key-0123456789"))),
      "permission_denied",
    );
    // With a keys file, agent access is no longer open.
    assert.equal(
      code(() => ring.authenticate("agent", key())),
      "unauthenticated",
    );
  });

  test("a file principal may not reuse the environment's names or keys", () => {
    const file = parseKeysFile("- {name: api, key: other-key-0123456789, role: agent}");
    assert.throws(
      () => new KeyRing({ apiKey: "api-key-0123456789" }, file.entries),
      /taken by AEGIS_API_KEY/,
    );
    const same = parseKeysFile("- {name: x, key: api-key-0123456789, role: agent}");
    assert.throws(() => new KeyRing({ apiKey: "api-key-0123456789" }, same.entries), /same key/);
  });

  test("keys are read from X-API-Key or Authorization: Bearer", () => {
    assert.equal(
      presentedKey((n) => (n === "authorization" ? "Bearer  abc " : undefined)),
      "abc",
    );
    assert.equal(
      presentedKey((n) => (n === "x-api-key" ? " k " : undefined)),
      "k",
    );
    assert.equal(
      presentedKey(() => undefined),
      undefined,
    );
  });
});
