// PolicyVersions on one embedded database shared by two "replicas" (two holders): the file's
// precedence at startup, PUT and rollback, AEGIS_POLICY_SOURCE=file, convergence by NOTIFY, and a
// database outage (PUT and rollback unavailable, nothing changes, the last version keeps serving).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AGENT_MIGRATIONS } from "../../src/agents/index.js";
import { AUDIT_MIGRATIONS } from "../../src/audit/index.js";
import { AegisError } from "../../src/errors.js";
import {
  compileText,
  PolicyHolder,
  type PolicySourceMode,
  PolicyVersions,
} from "../../src/governance/index.js";
import type { LoadedPolicyFile } from "../../src/governance/policy-file.js";
import { parsePolicy } from "../../src/policy/index.js";
import { POLICY_MIGRATIONS, PolicyVersionStore } from "../../src/policy-store/index.js";
import { type Database, openMigrated } from "../../src/storage/index.js";

const A = `rules:\n  - name: a\n    match: {type: "read"}\n    approval: auto\n`;
const B = `rules:\n  - name: b\n    match: {type: "read"}\n    approval: block\n`;
const C = `rules:\n  - name: c\n    match: {type: "read"}\n    approval: approve\n`;

function file(text: string): LoadedPolicyFile {
  return { policy: compileText(text), text, hash: createHash("sha256").update(text).digest("hex") };
}

/** A store whose every call fails as an unreachable database does, while `down` is set. */
class FlakyStore extends PolicyVersionStore {
  down = false;
  private check(): void {
    if (this.down) throw new AegisError("unavailable", "database unavailable: connection refused");
  }
  override async activate(...args: Parameters<PolicyVersionStore["activate"]>) {
    this.check();
    return super.activate(...args);
  }
  override async activeId() {
    this.check();
    return super.activeId();
  }
  override async get(id: number) {
    this.check();
    return super.get(id);
  }
}

let db: Database;
before(async () => {
  db = await openMigrated(
    { kind: "embedded", location: "memory:" },
    { migrations: [...AUDIT_MIGRATIONS, ...AGENT_MIGRATIONS, ...POLICY_MIGRATIONS] },
  );
});
after(() => db.close());

const replicas: PolicyVersions[] = [];
after(() => {
  for (const r of replicas) r.close();
});

async function replica(
  text: string | undefined,
  mode: PolicySourceMode = "database",
  store: PolicyVersionStore = new PolicyVersionStore(db),
): Promise<{ versions: PolicyVersions; holder: PolicyHolder }> {
  const holder = new PolicyHolder(parsePolicy(text ?? "rules: []"), "file");
  const versions = new PolicyVersions(store, db, holder, mode);
  replicas.push(versions);
  await versions.start(text === undefined ? undefined : file(text), "policy.yaml");
  return { versions, holder };
}

const rule = (h: PolicyHolder) => h.current.policy.view.rules[0]?.name;

async function until(check: () => boolean, what: string, ms = 3000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof AegisError ? err.code : String(err);
  }
  return "resolved";
};

describe("PolicyVersions", () => {
  test("a PUT survives a restart with the unchanged file; a changed file is a deploy; replicas follow", async () => {
    const one = await replica(A);
    assert.equal(rule(one.holder), "a");
    const v1 = one.holder.current.version?.id;
    assert.ok(v1 !== undefined);
    assert.equal(one.holder.current.source, "file");

    const put = await one.versions.update({ policy: compileText(B), text: B }, "alice", "tighten reads");
    assert.ok(put.id > v1);
    assert.equal(rule(one.holder), "b");
    assert.equal(one.holder.current.version?.principal, "alice");
    assert.equal(one.holder.current.version?.message, "tighten reads");

    // A restart (a new replica) with the same file keeps the PUT.
    const two = await replica(A);
    assert.equal(rule(two.holder), "b");
    assert.equal(two.holder.current.version?.id, put.id);

    // A changed file at startup becomes the active version, and the first replica follows.
    const three = await replica(C);
    assert.equal(rule(three.holder), "c");
    const ms = await until(() => rule(one.holder) === "c" && rule(two.holder) === "c", "convergence");
    assert.ok(ms < 1000, `converged in ${ms} ms`);
    assert.equal(one.holder.current.source, "file");
  });

  test("rollback: unknown id is not_found, the active id is a no-op, an old id is a new rollback version", async () => {
    const r = await replica(A);
    const { versions: list } = await r.versions.list(100);
    const oldest = list.at(-1);
    assert.ok(oldest !== undefined);
    assert.equal(await code(r.versions.rollback(999_999, "alice")), "not_found");
    const active = r.holder.current.version?.id as number;
    const same = await r.versions.rollback(active, "alice");
    assert.equal(same.changed, false);
    assert.equal(r.holder.current.version?.id, active);

    const back = await r.versions.rollback(oldest.id, "alice");
    assert.equal(back.changed, true);
    assert.equal(back.version.source, "rollback");
    assert.equal(back.version.rollbackOf, oldest.id);
    assert.ok(back.version.id > active);
    assert.equal(r.holder.current.version?.id, back.version.id);
    assert.equal(r.holder.current.source, "rollback");
    assert.equal(r.holder.current.policy.hash, oldest.hash);
  });

  test("AEGIS_POLICY_SOURCE=file: PUT and rollback are failed_precondition; the file wins at startup", async () => {
    const db1 = await replica(A);
    await db1.versions.update({ policy: compileText(B), text: B }, "alice");
    const f = await replica(A, "file");
    assert.equal(rule(f.holder), "a", "the file is activated over the PUT");
    const before = f.holder.current.version?.id;
    await assert.rejects(
      f.versions.update({ policy: compileText(C), text: C }, "alice"),
      (e: unknown) =>
        e instanceof AegisError &&
        e.code === "failed_precondition" &&
        /AEGIS_POLICY_SOURCE=file/.test(e.message),
    );
    assert.equal(await code(f.versions.rollback(1, "alice")), "failed_precondition");
    assert.equal(f.holder.current.version?.id, before);
  });

  test("an empty file: the stored active version serves; with nothing stored it is an error", async () => {
    const r = await replica(undefined);
    assert.ok(r.holder.current.version !== undefined);
    const fresh = await openMigrated(
      { kind: "embedded", location: "memory:" },
      { migrations: [...AUDIT_MIGRATIONS, ...AGENT_MIGRATIONS, ...POLICY_MIGRATIONS] },
    );
    try {
      const holder = new PolicyHolder(parsePolicy("rules: []"), "file");
      const v = new PolicyVersions(new PolicyVersionStore(fresh), fresh, holder, "database");
      await assert.rejects(v.start(undefined, "policy.yaml"), /empty and no policy version is stored/);
      v.close();
    } finally {
      await fresh.close();
    }
  });

  test("a database outage: PUT and rollback are unavailable, nothing changes, the last version serves", async () => {
    const store = new FlakyStore(db);
    const r = await replica(A, "database", store);
    const served = r.holder.current;
    store.down = true;
    assert.equal(await code(r.versions.update({ policy: compileText(C), text: C }, "alice")), "unavailable");
    assert.equal(await code(r.versions.rollback(1, "alice")), "unavailable");
    assert.equal(r.holder.current, served, "the holder was not touched");
    // The poll keeps failing quietly and keeps the last version.
    await new Promise((res) => setTimeout(res, 700));
    assert.equal(r.holder.current, served);
    store.down = false;
    const put = await r.versions.update({ policy: compileText(C), text: C }, "alice");
    assert.equal(r.holder.current.version?.id, put.id);
  });
});
