// The database floor: which backend a configuration names, migrations as one numbering.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Migration, orderMigrations, resolveTarget } from "../../src/storage/index.js";

test("backend choice: a postgres AEGIS_AUDIT_DB, else DATABASE_URL, else the embedded directory", () => {
  const pgA = "postgres://a@127.0.0.1:5432/a";
  const pgB = "postgresql://b@127.0.0.1:5432/b";
  assert.deepEqual(resolveTarget({}), { kind: "embedded", location: "./.aegis/audit" });
  assert.deepEqual(resolveTarget({ auditDb: "memory:" }), { kind: "embedded", location: "memory:" });
  assert.deepEqual(resolveTarget({ auditDb: "/data/audit" }), {
    kind: "embedded",
    location: "/data/audit",
  });
  assert.deepEqual(resolveTarget({ auditDb: pgA }), { kind: "postgres", url: pgA });
  assert.deepEqual(resolveTarget({ databaseUrl: pgB }), { kind: "postgres", url: pgB });
  assert.deepEqual(resolveTarget({ auditDb: pgA, databaseUrl: pgB }), { kind: "postgres", url: pgA });
  // The Docker image's default directory must not hide docker-compose's DATABASE_URL.
  assert.deepEqual(resolveTarget({ auditDb: "/app/data/audit", databaseUrl: pgB }), {
    kind: "postgres",
    url: pgB,
  });
  assert.deepEqual(resolveTarget({ auditDb: "  ", databaseUrl: "" }), {
    kind: "embedded",
    location: "./.aegis/audit",
  });
});

test("every concern's migrations form one numbering 1..n; a gap or a repeat is refused", () => {
  const m = (version: number): Migration => ({ version, name: `m${version}`, sql: "SELECT 1" });
  assert.deepEqual(
    orderMigrations([m(1), m(3)], [m(2)]).map((x) => x.version),
    [1, 2, 3],
  );
  assert.throws(() => orderMigrations([m(1), m(3)]), /version 3, expected 2/);
  assert.throws(() => orderMigrations([m(1)], [m(1)]), /version 1, expected 2/);
});
