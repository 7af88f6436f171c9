// One process per embedded audit directory (PGlite has no lock of its own; two writers would
// corrupt it). The lock is a file created with O_EXCL holding the owner's PID, its PID namespace
// and its process start identity (boot id + start time from /proc), and the owner refreshes the
// file's mtime every second (heartbeat).
//
// Whether a recorded owner still lives:
// - same PID namespace (same container or same host): the PID must exist AND have the recorded
//   start time. A lock left by `kill -9` is stale at once; so is a lock whose PID was reused by
//   another process, or whose PID is our own (a restarted container: same PID, new process).
// - another PID namespace (another container sharing the volume: its PIDs mean nothing here) or
//   no /proc: the heartbeat decides. A lock whose mtime is older than STALE_AFTER_MS is stale;
//   a fresher one is watched until its mtime moves (live: refused) or it gets that old (stale:
//   taken over). So a crashed container delays the next one's start by at most STALE_AFTER_MS,
//   never blocks it.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";

export const HEARTBEAT_MS = 1000;
export const STALE_AFTER_MS = 10_000;

export interface LockOwner {
  readonly pid: number;
  /** `<boot id>:<start time in clock ticks>` on Linux; null where /proc is not available. */
  readonly start: string | null;
  /** The owner's PID namespace (`pid:[inode]`); null where /proc is not available. */
  readonly pidns: string | null;
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
      `audit directory is in use by another live Aegis process (pid ${owner.pid} on ${owner.host}, since ${owner.acquiredAt}); ` +
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

function ownPidNamespace(): string | null {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return null;
  }
}

/** Start identity of `pid` in this PID namespace, or null (no /proc, or no such process). */
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

export type Liveness = "live" | "stale" | "heartbeat";

/** Whether `owner` still runs, as far as its PID tells; "heartbeat" when the PID cannot tell. */
export function ownerLiveness(owner: LockOwner, lockPath: string): Liveness {
  const myNs = ownPidNamespace();
  if (owner.pidns === null || myNs === null || owner.pidns !== myNs || owner.start === null)
    return "heartbeat";
  if (owner.pid === process.pid) {
    // Our own PID: either this very process holds it, or an earlier process with the same PID
    // died (a restarted container).
    return heldHere.has(lockPath) ? "live" : "stale";
  }
  if (!pidAlive(owner.pid)) return "stale";
  return processStartIdentity(owner.pid) === owner.start ? "live" : "stale";
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== "number" || !Number.isInteger(o.pid) || o.pid <= 0) return null;
    return {
      pid: o.pid,
      start: typeof o.start === "string" ? o.start : null,
      pidns: typeof o.pidns === "string" ? o.pidns : null,
      host: typeof o.host === "string" ? o.host : "?",
      acquiredAt: typeof o.acquiredAt === "string" ? o.acquiredAt : "?",
      token: typeof o.token === "string" ? o.token : "",
    };
  } catch {
    return null;
  }
}

interface Existing {
  readonly text: string;
  readonly owner: LockOwner | null;
  readonly mtimeMs: number;
}

function readExisting(lockPath: string): Existing | null {
  try {
    const mtimeMs = statSync(lockPath).mtimeMs;
    const text = readFileSync(lockPath, "utf8");
    return { text, owner: parseOwner(text), mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Watches the heartbeat of a lock whose PID cannot tell: live if the mtime moves, stale once old. */
async function heartbeatSaysLive(lockPath: string, first: Existing, staleAfterMs: number): Promise<boolean> {
  for (;;) {
    if (Date.now() - first.mtimeMs > staleAfterMs) return false;
    await sleep(Math.min(250, HEARTBEAT_MS / 2));
    const now = readExisting(lockPath);
    if (now === null || now.text !== first.text) return true; // changed hands: look again
    if (now.mtimeMs !== first.mtimeMs) return true;
  }
}

export interface DirectoryLock {
  readonly path: string;
  readonly owner: LockOwner;
  release(): void;
}

export interface AcquireOptions {
  /** Heartbeat age after which a lock whose PID cannot be checked is stale (default 10 s). */
  readonly staleAfterMs?: number;
}

/**
 * Takes the lock at `lockPath`, or throws DirectoryLockedError when a live process holds it.
 * A stale or unreadable lock is moved aside atomically (rename) and the create retried.
 */
export async function acquireDirectoryLock(
  lockPath: string,
  options: AcquireOptions = {},
): Promise<DirectoryLock> {
  const staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
  const me: LockOwner = {
    pid: process.pid,
    start: processStartIdentity(process.pid),
    pidns: ownPidNamespace(),
    host: hostname(),
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const existing = readExisting(lockPath);
      if (existing === null) continue; // removed in between: retry the create
      if (existing.owner === null) {
        // Empty or garbled: possibly another process between its create and its write.
        if (Date.now() - existing.mtimeMs < 2000) {
          await sleep(100);
          continue;
        }
      } else {
        const liveness = ownerLiveness(existing.owner, lockPath);
        if (liveness === "live") throw new DirectoryLockedError(lockPath, existing.owner);
        if (liveness === "heartbeat" && (await heartbeatSaysLive(lockPath, existing, staleAfterMs))) {
          const again = readExisting(lockPath);
          if (again?.text === existing.text) throw new DirectoryLockedError(lockPath, existing.owner);
          continue;
        }
      }
      // Stale: move it aside under a unique name. If what we moved is not what we judged stale,
      // put it back and look again.
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
    const heartbeat = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(lockPath, now, now);
      } catch {
        // the directory went away; nothing to keep alive
      }
    }, HEARTBEAT_MS);
    heartbeat.unref();
    let released = false;
    return {
      path: lockPath,
      owner: me,
      release() {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        heldHere.delete(lockPath);
        const current = readExisting(lockPath);
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
