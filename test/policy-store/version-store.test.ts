// Policy versions on the embedded store and on PostgreSQL: activation conditions, history, and
// concurrent activations from two replicas keeping the active id increasing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
// Version 4 (agents) is not needed here, but the numbering must be whole.
import { AGENT_MIGRATIONS } from "../../src/agents/index.js";
import { AUDIT_MIGRATIONS } from "../../src/audit/index.js";
import { type Candidate, POLICY_MIGRATIONS, PolicyVersionStore } from "../../src/policy-store/index.js";
import { type Database, openDatabase } from "../../src/storage/index.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";

const migrations = [...AUDIT_MIGRATIONS, ...AGENT_MIGRATIONS, ...POLICY_MIGRATIONS];

function candidate(over: Partial<Candidate> = {}): Candidate {
  return { text: "rules: []", hash: "h1", ruleCount: 0, source: "api", principal: "admin", ...over };
}

async function behaves(db: Database): Promise<void> {
  const store = new PolicyVersionStore(db);
  assert.equal(await store.activeId(), undefined);
  const first = await store.activate(candidate({ source: "file", fileHash: "f1" }), "file-changed");
  assert.equal(first.created, true);
  assert.equal(await store.activeId(), first.version.id);
  // The same file again (a restart): nothing changes.
  const again = await store.activate(candidate({ source: "file", fileHash: "f1" }), "file-changed");
  assert.equal(again.created, false);
  assert.equal(again.version.id, first.version.id);
  // A PUT; then a restart with the unchanged file keeps the PUT active.
  const put = await store.activate(
    candidate({ text: "rules: [x]", hash: "h2", ruleCount: 1, message: "tighten" }),
  );
  assert.ok(put.version.id > first.version.id);
  assert.equal(
    (await store.activate(candidate({ source: "file", fileHash: "f1" }), "file-changed")).created,
    false,
  );
  assert.equal(await store.activeId(), put.version.id);
  // In file-only mode the file wins over the PUT, once.
  const fileOnly = await store.activate(candidate({ source: "file", fileHash: "f1" }), "file-not-active");
  assert.equal(fileOnly.created, true);
  assert.equal(
    (await store.activate(candidate({ source: "file", fileHash: "f1" }), "file-not-active")).created,
    false,
  );
  // A changed file is a deliberate deploy.
  const deploy = await store.activate(
    candidate({ source: "file", fileHash: "f2", hash: "h3" }),
    "file-changed",
  );
  assert.equal(deploy.created, true);

  const { versions, activeId } = await store.list(2);
  assert.equal(activeId, deploy.version.id);
  assert.deepEqual(
    versions.map((v) => v.id),
    [deploy.version.id, fileOnly.version.id],
  );
  const older = await store.list(10, versions.at(-1)!.id);
  assert.deepEqual(
    older.versions.map((v) => v.id),
    [put.version.id, first.version.id],
  );
  const got = await store.get(put.version.id);
  assert.equal(got?.text, "rules: [x]");
  assert.equal(got?.message, "tighten");
  assert.equal(got?.principal, "admin");
  assert.equal(await store.get(999_999), undefined);
}

describe("policy versions: embedded", () => {
  test("activation conditions, history and the active version", async () => {
    const db = await openDatabase({ kind: "embedded", location: "memory:" }, { migrations });
    try {
      await behaves(db);
    } finally {
      await db.close();
    }
  });
});

describe("policy versions: PostgreSQL", async () => {
  const admin = await postgresUrl();
  if (admin === null) {
    loudNotRun("policy versions on PostgreSQL");
    test("PostgreSQL not reachable: policy versions are checked on the embedded store only", () => {});
    return;
  }

  test("activation conditions, history and the active version", async () => {
    const { url, drop } = await createTestDatabase(admin);
    const db = await openDatabase({ kind: "postgres", url }, { migrations });
    try {
      await behaves(db);
    } finally {
      await db.close();
      await drop();
    }
  });

  test("concurrent activations from two replicas: the active version is always the newest", async () => {
    const { url, drop } = await createTestDatabase(admin);
    const a = await openDatabase({ kind: "postgres", url }, { migrations });
    const b = await openDatabase({ kind: "postgres", url }, { migrations });
    try {
      const sa = new PolicyVersionStore(a);
      const sb = new PolicyVersionStore(b);
      const made = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? sa : sb).activate(candidate({ hash: `h${i}` }))),
      );
      const ids = made.map((m) => m.version.id);
      assert.equal(new Set(ids).size, 20);
      assert.equal(await sa.activeId(), Math.max(...ids));
      // Three replicas starting with the same new file make one version, not three.
      const starts = await Promise.all(
        [sa, sb, sa].map((s) => s.activate(candidate({ source: "file", fileHash: "fx" }), "file-changed")),
      );
      assert.equal(starts.filter((s) => s.created).length, 1);
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });
});
