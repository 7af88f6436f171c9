import assert from "node:assert/strict";
import { test } from "node:test";
import { openAuditStore } from "../../src/audit/open-audit-store.js";
import { AegisError } from "../../src/errors.js";

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
