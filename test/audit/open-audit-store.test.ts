import assert from "node:assert/strict";
import { test } from "node:test";
import { openAuditStore, resolveAuditTarget } from "../../src/audit/open-audit-store.js";
import { AegisError } from "../../src/errors.js";

test("backend choice: a postgres AEGIS_AUDIT_DB, else DATABASE_URL, else the embedded directory", () => {
  const pgA = "postgres://a@127.0.0.1:5432/a";
  const pgB = "postgresql://b@127.0.0.1:5432/b";
  assert.deepEqual(resolveAuditTarget({}), { kind: "embedded", location: "./.aegis/audit" });
  assert.deepEqual(resolveAuditTarget({ auditDb: "memory:" }), { kind: "embedded", location: "memory:" });
  assert.deepEqual(resolveAuditTarget({ auditDb: "/data/audit" }), {
    kind: "embedded",
    location: "/data/audit",
  });
  assert.deepEqual(resolveAuditTarget({ auditDb: pgA }), { kind: "postgres", url: pgA });
  assert.deepEqual(resolveAuditTarget({ databaseUrl: pgB }), { kind: "postgres", url: pgB });
  assert.deepEqual(resolveAuditTarget({ auditDb: pgA, databaseUrl: pgB }), { kind: "postgres", url: pgA });
  // The Docker image's default directory must not hide docker-compose's DATABASE_URL.
  assert.deepEqual(resolveAuditTarget({ auditDb: "/app/data/audit", databaseUrl: pgB }), {
    kind: "postgres",
    url: pgB,
  });
  assert.deepEqual(resolveAuditTarget({ auditDb: "  ", databaseUrl: "" }), {
    kind: "embedded",
    location: "./.aegis/audit",
  });
});

test("a PostgreSQL that is down at startup opens (not ready), it does not fail the start", async () => {
  const store = await openAuditStore({ auditDb: "postgres://postgres@127.0.0.1:1/none" });
  try {
    assert.equal(store.kind, "postgres");
    await assert.rejects(
      store.ping(500),
      (err: unknown) => err instanceof AegisError && err.code === "unavailable",
    );
  } finally {
    await store.close();
  }
});

test("the location shown in logs never carries the password", async () => {
  const store = await openAuditStore({ auditDb: "postgres://user:s3cret@127.0.0.1:1/none", migrate: false });
  try {
    assert.doesNotMatch(store.location, /s3cret/);
    assert.match(store.location, /user:\*\*\*@127\.0\.0\.1:1\/none/);
  } finally {
    await store.close();
  }
});
