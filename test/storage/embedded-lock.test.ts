// The embedded store's directory lock, with real child processes (spawned with process.execPath so
// the Node 20 and Node 24 runs of CI both exercise it).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { createEmbeddedStore, openAuditStore } from "../../src/audit/open-audit-store.js";
import { AegisError } from "../../src/errors.js";
import {
  acquireDirectoryLock,
  DirectoryLockedError,
  type LockOwner,
  ownerLiveness,
  processStartIdentity,
} from "../../src/storage/embedded/dir-lock.js";
import { LOCK_FILE } from "../../src/storage/embedded/pglite-driver.js";
import { row } from "../audit/support.js";
import { repoRoot } from "../support/paths.js";

const myPidNs = readlinkSync("/proc/self/ns/pid");
const scratch = mkdtempSync(join(tmpdir(), "aegis-lock-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirSeq = 0;
const freshDir = (): string => join(scratch, `d${++dirSeq}`);

const distAudit = (file: string): string => pathToFileURL(join(repoRoot, "dist", "src", "audit", file)).href;
const distStorage = (file: string): string =>
  pathToFileURL(join(repoRoot, "dist", "src", "storage", file)).href;

/** Starts a child that runs `body` (an ES module) and resolves once it prints READY. */
function child(body: string): Promise<{ proc: ChildProcess; lines: string[] }> {
  const script = join(scratch, `child-${++dirSeq}.mjs`);
  writeFileSync(script, body);
  const proc = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line === "READY") resolve({ proc, lines });
        nl = buf.indexOf("\n");
      }
    });
    proc.on("exit", (code) => reject(new Error(`child exited (${code}) before READY: ${stderr}`)));
  });
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once("exit", () => resolve()));
}

const lockHolder = (lockPath: string): string => `
import { acquireDirectoryLock } from ${JSON.stringify(distStorage("embedded/dir-lock.js"))};
await acquireDirectoryLock(${JSON.stringify(lockPath)});
console.log("READY");
setInterval(() => {}, 1000);
`;

test("an existing regular file at the path is a one-line error", async () => {
  const file = join(scratch, "audit.db");
  writeFileSync(file, "SQLite format 3\u0000");
  for (const open of [
    () => createEmbeddedStore({ location: file }),
    () => openAuditStore({ auditDb: file }),
  ]) {
    await assert.rejects(open(), (err: unknown) => {
      assert.ok(err instanceof AegisError);
      assert.match(err.message, /is a file, not a directory/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
  assert.equal(readFileSync(file, "utf8"), "SQLite format 3\u0000", "the file is left alone");
});

test("a second live process is refused with a clear error naming the holder", async () => {
  const dir = freshDir();
  const lockPath = join(dir, LOCK_FILE);
  mkdirSync(dir, { recursive: true });
  const { proc } = await child(lockHolder(lockPath));
  try {
    await assert.rejects(
      () => acquireDirectoryLock(lockPath),
      (err: unknown) => {
        assert.ok(err instanceof DirectoryLockedError);
        assert.equal(err.owner.pid, proc.pid);
        assert.match(err.message, new RegExp(`in use by another live Aegis process \\(pid ${proc.pid}`));
        return true;
      },
    );
    // The store refuses before starting PGlite.
    await assert.rejects(createEmbeddedStore({ location: dir }), DirectoryLockedError);
  } finally {
    proc.kill("SIGTERM");
    await exited(proc);
  }
});

test("a lock left by kill -9 never blocks the next start", async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, LOCK_FILE);
  const { proc } = await child(lockHolder(lockPath));
  proc.kill("SIGKILL");
  await exited(proc);
  assert.equal(JSON.parse(readFileSync(lockPath, "utf8")).pid, proc.pid, "the stale lock is still there");
  const lock = await acquireDirectoryLock(lockPath);
  assert.equal(lock.owner.pid, process.pid);
  lock.release();
});

test("a lock whose PID is alive but belongs to another process start (PID reuse) is stale", async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, LOCK_FILE);
  // The parent process is alive; the recorded start identity is not its own.
  assert.notEqual(processStartIdentity(process.ppid), null, "this test needs /proc");
  writeFileSync(
    lockPath,
    JSON.stringify({
      pid: process.ppid,
      start: "other-boot:1",
      pidns: myPidNs,
      host: hostname(),
      acquiredAt: "x",
      token: "t",
    }),
  );
  // Decided by the PID check in our namespace, not by waiting for a heartbeat.
  const owner = JSON.parse(readFileSync(lockPath, "utf8")) as LockOwner;
  assert.equal(ownerLiveness(owner, lockPath), "stale");
  const lock = await acquireDirectoryLock(lockPath);
  assert.equal(lock.owner.pid, process.pid);
  lock.release();
});

test("a lock with our own PID from an earlier process (restarted container) is stale", async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, LOCK_FILE);
  writeFileSync(
    lockPath,
    JSON.stringify({
      pid: process.pid,
      start: "previous-boot:42",
      pidns: myPidNs,
      host: hostname(),
      acquiredAt: "x",
      token: "t",
    }),
  );
  const owner = JSON.parse(readFileSync(lockPath, "utf8")) as LockOwner;
  assert.equal(ownerLiveness(owner, lockPath), "stale");
  const lock = await acquireDirectoryLock(lockPath);
  assert.equal(lock.owner.pid, process.pid);
  assert.equal(ownerLiveness(lock.owner, lockPath), "live");
  // ...but a second open inside this very process is refused.
  await assert.rejects(acquireDirectoryLock(lockPath), DirectoryLockedError);
  lock.release();
  const again = await acquireDirectoryLock(lockPath);
  again.release();
});

test("a lock from another PID namespace (another container on the volume): the heartbeat decides", async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, LOCK_FILE);
  const foreign = (pid: number) =>
    JSON.stringify({
      pid,
      start: "b:1",
      pidns: "pid:[1]",
      host: "other-container",
      acquiredAt: "x",
      token: "f",
    });
  // No heartbeat for long: stale at once.
  writeFileSync(lockPath, foreign(1));
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockPath, old, old);
  let lock = await acquireDirectoryLock(lockPath);
  lock.release();
  // A fresh lock that stops beating (its container was killed): taken over once it is old enough.
  writeFileSync(lockPath, foreign(1));
  lock = await acquireDirectoryLock(lockPath, { staleAfterMs: 600 });
  assert.equal(lock.owner.pid, process.pid);
  lock.release();
  // A live holder seen through another namespace: its heartbeat moves, so it is refused.
  const { proc } = await child(lockHolder(lockPath));
  try {
    const mine = JSON.parse(readFileSync(lockPath, "utf8")) as Record<string, unknown>;
    writeFileSync(lockPath, JSON.stringify({ ...mine, pidns: "pid:[1]" }));
    await assert.rejects(acquireDirectoryLock(lockPath, { staleAfterMs: 5000 }), DirectoryLockedError);
  } finally {
    proc.kill("SIGKILL");
    await exited(proc);
  }
});

test("kill -9 of a process with the embedded store open: restart on the same directory works, acknowledged rows are there", async () => {
  const dir = freshDir();
  const { proc, lines } = await child(`
import { createEmbeddedStore } from ${JSON.stringify(distAudit("open-audit-store.js"))};
import { BatchWriter } from ${JSON.stringify(distAudit("batch-writer.js"))};
const store = await createEmbeddedStore({ location: ${JSON.stringify(dir)} });
await store.migrate();
const writer = new BatchWriter(store);
const row = ${JSON.stringify(row())};
const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => writer.insert({ ...row, timestamp: new Date(), chainDepth: i })));
console.log("IDS " + JSON.stringify(ids));
console.log("READY");
// Keep writing until killed.
for (;;) await writer.insert({ ...row, timestamp: new Date(), actionType: "more" });
`);
  const acked = JSON.parse(lines.find((l) => l.startsWith("IDS "))!.slice(4)) as number[];
  await new Promise((r) => setTimeout(r, 200));
  proc.kill("SIGKILL");
  await exited(proc);
  const store = await createEmbeddedStore({ location: dir });
  try {
    await store.migrate();
    const { records: recs } = await store.query({ limit: 10_000, order: "asc", actionType: "read_file" });
    const present = new Set(recs.map((r) => r.id));
    assert.ok(
      acked.every((id) => present.has(id)),
      "every acknowledged row survived kill -9",
    );
    const [id] = await store.writeBatch([row()], []);
    assert.ok(id !== undefined && id > Math.max(...acked));
  } finally {
    await store.close();
  }
  // close() released the lock: the directory opens again.
  const again = await createEmbeddedStore({ location: dir });
  await again.close();
});
