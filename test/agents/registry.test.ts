// The agent registry on the embedded store and on PostgreSQL, and the kill switch reaching a
// second registry (a second replica) on the same database.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AGENT_MIGRATIONS, AgentRegistry } from "../../src/agents/index.js";
import { AUDIT_MIGRATIONS } from "../../src/audit/index.js";
import { type Database, openDatabase } from "../../src/storage/index.js";
import { createTestDatabase, loudNotRun, postgresUrl } from "../support/postgres.js";

const migrations = [...AUDIT_MIGRATIONS, ...AGENT_MIGRATIONS];

async function until(check: () => boolean, what: string, ms = 3000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

async function behaves(db: Database): Promise<void> {
  const reg = new AgentRegistry(db, { heartbeatTimeoutMs: 200 });
  await reg.start();
  try {
    const a = await reg.register({ agentId: "bot-1" }, "api");
    assert.equal(a.name, "bot-1", "name defaults to the agent id");
    assert.deepEqual(a.metadata, {});
    assert.equal(a.framework, "");
    const b = await reg.register(
      { agentId: "bot-1", name: "Bot", framework: "langchain", version: "1.2", metadata: { team: "x" } },
      "api",
    );
    assert.equal(b.name, "Bot");
    assert.deepEqual(b.metadata, { team: "x" });
    assert.ok(b.lastHeartbeat >= a.lastHeartbeat);
    await reg.register({ agentId: "bot-2" }, "api");
    let listed = await reg.list(false);
    assert.deepEqual(
      listed.agents.map((x) => x.agentId),
      ["bot-1", "bot-2"],
    );
    assert.equal(listed.total, 2);
    assert.equal(listed.alive, 2);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await reg.heartbeat("bot-2"), true);
    assert.equal(await reg.heartbeat("nobody"), false);
    listed = await reg.list(true);
    assert.deepEqual(
      listed.agents.map((x) => x.agentId),
      ["bot-2"],
    );
    assert.equal(listed.alive, 1);
    assert.equal((await reg.get("bot-1"))?.framework, "langchain");
    assert.equal(await reg.get("nobody"), undefined);
    assert.equal(await reg.remove("bot-1"), true);
    assert.equal(await reg.remove("bot-1"), false);

    // Suspensions work for ids that never registered, and are read from memory.
    await reg.suspend("ghost", "leaked key", "admin");
    assert.equal(reg.suspensionOf("ghost")?.reason, "leaked key");
    assert.equal(reg.suspensionOf(undefined), undefined);
    assert.equal(await reg.resume("ghost"), true);
    assert.equal(reg.suspensionOf("ghost"), undefined);
    assert.equal(await reg.resume("ghost"), false);
  } finally {
    reg.close();
  }
}

describe("agent registry: embedded", () => {
  test("register, heartbeat, list, remove, suspend and resume", async () => {
    const db = await openDatabase({ kind: "embedded", location: "memory:" }, { migrations });
    try {
      await behaves(db);
    } finally {
      await db.close();
    }
  });
});

describe("agent registry: PostgreSQL", async () => {
  const admin = await postgresUrl();
  if (admin === null) {
    loudNotRun("the agent registry on PostgreSQL");
    test("PostgreSQL not reachable: the registry is checked on the embedded store only", () => {});
    return;
  }

  test("register, heartbeat, list, remove, suspend and resume", async () => {
    const { url, drop } = await createTestDatabase(admin);
    const db = await openDatabase({ kind: "postgres", url }, { migrations });
    try {
      await behaves(db);
    } finally {
      await db.close();
      await drop();
    }
  });

  test("a suspension made on one replica blocks on the other within a second, and survives a restart", async () => {
    const { url, drop } = await createTestDatabase(admin);
    const dbA = await openDatabase({ kind: "postgres", url }, { migrations });
    const dbB = await openDatabase({ kind: "postgres", url }, { migrations });
    const a = new AgentRegistry(dbA);
    const b = new AgentRegistry(dbB);
    try {
      await a.start();
      await b.start();
      await a.suspend("bot-9", "runaway", "admin");
      const ms = await until(
        () => b.suspensionOf("bot-9") !== undefined,
        "the suspension on replica B",
        1000,
      );
      assert.ok(ms < 1000, `${ms} ms`);
      b.close();
      const restarted = new AgentRegistry(dbB);
      await restarted.start();
      assert.equal(restarted.suspensionOf("bot-9")?.suspendedBy, "admin");
      await a.resume("bot-9");
      await until(() => restarted.suspensionOf("bot-9") === undefined, "the resume on replica B", 1000);
      restarted.close();
    } finally {
      a.close();
      b.close();
      await dbA.close();
      await dbB.close();
      await drop();
    }
  });
});
