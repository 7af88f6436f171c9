// One process per embedded audit directory (PGlite has no lock of its own; two writers would
// corrupt it). The lock is a file created with O_EXCL holding the owner's PID and its process
// start identity (boot id + start time from /proc). A lock is honoured only while that exact
// process lives: a lock left by `kill -9`, or by a container restarted with the same PID (same PID,
// different start time, or the PID being our own), is taken over.
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";

export interface LockOwner {
  readonly pid: number;
  /** `<boot id>:<start time in clock ticks>` on Linux; null where /proc is not available. */
  readonly start: string | null;
  readonly host: string;
  readonly acquiredAt: string;
  /** Random per acquisition, so a release never removes somebody else's lock. */
  readonly token: string;
}

export class DirectoryLockedError extends Error {
  override readonly name = "DirectoryLockedError";
  constructor(
    readonly lockPath: string,
    readonly owner: LockOwner,
  ) {
    super(
      `audit directory is in use by another live Aegis process (pid ${owner.pid}, since ${owner.acquiredAt}); ` +
        `stop it or point AEGIS_AUDIT_DB elsewhere (lock file ${lockPath})`,
    );
  }
}

/** Paths locked by this process, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

function readBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

/** Start identity of `pid`, or null when it cannot be read (no /proc, or no such process). */
export function processStartIdentity(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Field 2 (comm) may contain spaces and parentheses: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTicks = fields[19]; // field 22 overall
  if (startTicks === undefined) return null;
  return `${readBootId() ?? "?"}:${startTicks}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the process recorded in `owner` is still running (and is not a reused PID). */
export function ownerIsLive(owner: LockOwner, lockPath: string): boolean {
  if (owner.pid === process.pid) {
    // Our own PID: either this very process holds it (refuse), or a previous process with the same
    // PID died (a restarted container): stale.
    return heldHere.has(lockPath);
  }
  if (owner.host !== hostname()) {
    // Another machine (shared volume): we cannot check; honour the lock.
    return true;
  }
  if (!pidAlive(owner.pid)) return false;
  if (owner.start === null) return true;
  const current = processStartIdentity(owner.pid);
  // Without /proc we cannot tell a reused PID apart: honour the lock (the safe side).
  return current === null ? true : current === owner.start;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== "number" || !Number.isInteger(o.pid) || o.pid <= 0) return null;
    return {
      pid: o.pid,
      start: typeof o.start === "string" ? o.start : null,
      host: typeof o.host === "string" ? o.host : hostname(),
      acquiredAt: typeof o.acquiredAt === "string" ? o.acquiredAt : "?",
      token: typeof o.token === "string" ? o.token : "",
    };
  } catch {
    return null;
  }
}

function readOwner(lockPath: string): { text: string; owner: LockOwner | null } | null {
  try {
    const text = readFileSync(lockPath, "utf8");
    return { text, owner: parseOwner(text) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export interface DirectoryLock {
  readonly path: string;
  readonly owner: LockOwner;
  release(): void;
}

/**
 * Takes the lock at `lockPath` or throws DirectoryLockedError when a live process holds it.
 * A stale or unreadable lock is moved aside atomically (rename) and the create is retried.
 */
export function acquireDirectoryLock(lockPath: string): DirectoryLock {
  const me: LockOwner = {
    pid: process.pid,
    start: processStartIdentity(process.pid),
    host: hostname(),
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const existing = readOwner(lockPath);
      if (existing === null) continue; // removed in between: retry the create
      if (existing.owner !== null && ownerIsLive(existing.owner, lockPath)) {
        throw new DirectoryLockedError(lockPath, existing.owner);
      }
      if (existing.owner === null && existing.text.length === 0 && attempt === 0) {
        // Possibly another process between its create and its write: look again shortly.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      // Stale: move it aside under a unique name. Only the process whose rename succeeds removes
      // it; if what we moved is not what we judged stale, put it back and look again.
      const aside = `${lockPath}.stale-${process.pid}-${me.token}`;
      try {
        renameSync(lockPath, aside);
      } catch (renameErr) {
        if ((renameErr as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw renameErr;
      }
      let movedText = "";
      try {
        movedText = readFileSync(aside, "utf8");
      } catch {
        // ignore
      }
      if (movedText !== existing.text) {
        try {
          renameSync(aside, lockPath);
        } catch {
          // ignore; the loop looks again
        }
        continue;
      }
      unlinkSync(aside);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    heldHere.add(lockPath);
    let released = false;
    return {
      path: lockPath,
      owner: me,
      release() {
        if (released) return;
        released = true;
        heldHere.delete(lockPath);
        const current = readOwner(lockPath);
        if (current?.owner?.token === me.token) {
          try {
            unlinkSync(lockPath);
          } catch {
            // already gone
          }
        }
      },
    };
  }
  throw new Error(`could not take the audit directory lock ${lockPath} (it keeps changing); try again`);
}
