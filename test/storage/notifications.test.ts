// LISTEN/NOTIFY through the driver seam, on the embedded store and on PostgreSQL: delivery across
// connections (two drivers on one database, as two replicas), and a resync after the listening
// connection is killed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { createPgDriver, databaseOn, openEmbedded, type SqlDriver } from "../../src/storage/index.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recorder() {
  const messages: string[] = [];
  let resyncs = 0;
  return {
    messages,
    get resyncs() {
      return resyncs;
    },
    subscriber: { onMessage: (p: string) => messages.push(p), onResync: () => resyncs++ },
  };
}

describe("notifications: embedded", () => {
  test("a NOTIFY reaches the subscriber; unsubscribed, nothing more arrives", async () => {
    const db = await openEmbedded("memory:");
    try {
      const r = recorder();
      const off = db.driver.subscribe("aegis_test", r.subscriber);
      await until(() => r.resyncs === 1, "the subscription to be live");
      await db.driver.notify("aegis_test", "one");
      await until(() => r.messages.length === 1, "the notification");
      assert.deepEqual(r.messages, ["one"]);
      off();
      await new Promise((res) => setTimeout(res, 50));
      await db.driver.notify("aegis_test", "two");
      await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(r.messages, ["one"]);
    } finally {
      await db.close();
    }
  });
});

describe("notifications: PostgreSQL", async () => {
  const admin = await postgresUrl();
  if (admin === null) {
    loudNotRun("the PostgreSQL notification tests");
    test("PostgreSQL not reachable: notifications checked on the embedded store only", () => {});
    return;
  }

  test("two drivers on one database: a NOTIFY from one reaches the other, and a killed listener resyncs", async () => {
    const { url, drop } = await createTestDatabase(admin);
    const a: SqlDriver = createPgDriver({ url });
    const b: SqlDriver = createPgDriver({ url });
    try {
      const r = recorder();
      const off = b.subscribe("aegis_test", r.subscriber);
      await until(() => r.resyncs === 1, "the subscription to be live");
      await a.notify("aegis_test", JSON.stringify({ id: 1 }));
      await until(() => r.messages.length === 1, "the notification");
      assert.deepEqual(r.messages, ['{"id":1}']);

      // Kill the listening connection: the subscriber is told to resync once it is back.
      const killer = new pg.Client({ connectionString: url });
      await killer.connect();
      await killer.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
      );
      await killer.end();
      await until(() => r.resyncs === 2, "a resync after the reconnect", 10_000);
      await a.notify("aegis_test", "after");
      await until(() => r.messages.includes("after"), "a notification after the reconnect");
      off();
    } finally {
      await databaseOn(a, []).close();
      await databaseOn(b, []).close();
      await drop();
    }
  });
});
