// The embedded database: PGlite (PostgreSQL compiled to WASM) in this process, same SQL as
// PostgreSQL. Layout of the directory named by AEGIS_AUDIT_DB:
//   <dir>/aegis.lock   owner of the directory (see dir-lock.ts)
//   <dir>/pgdata/      the PGlite data directory
// `memory:` gives a throwaway in-memory database (tests, demos).
import { mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { AegisError } from "../../errors.js";
import type { SqlDriver, SqlRows, SqlSession, Subscriber } from "../sql-driver.js";
import { acquireDirectoryLock, type DirectoryLock } from "./dir-lock.js";

export const MEMORY_LOCATION = "memory:";
export const DEFAULT_EMBEDDED_DIR = "./.aegis/audit";
export const LOCK_FILE = "aegis.lock";
export const DATA_SUBDIR = "pgdata";

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AegisError("unavailable", `${what} timed out after ${ms} ms`, 1)),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

class PGliteDriver implements SqlDriver {
  constructor(
    private readonly db: PGlite,
    private readonly ownsDb = true,
  ) {}

  private isClosed = false;

  private check(): void {
    if (this.isClosed || this.db.closed)
      throw new AegisError("unavailable", "embedded database is closed", 1);
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>> {
    this.check();
    const res = await this.db.query<T>(text, params as unknown[] | undefined);
    return { rows: res.rows };
  }

  write<T>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>> {
    return this.query<T>(text, params);
  }

  async exec(text: string): Promise<void> {
    this.check();
    await this.db.exec(text);
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.check();
    return this.db.transaction(async (tx) =>
      fn({
        query: async <R>(text: string, params?: readonly unknown[]) => {
          const res = await tx.query<R>(text, params as unknown[] | undefined);
          return { rows: res.rows };
        },
        exec: async (text: string) => {
          await tx.exec(text);
        },
      }),
    );
  }

  /** One process, one connection: nothing is ever missed, so onResync runs once, when live. */
  subscribe(channel: string, subscriber: Subscriber): () => void {
    let unlisten: (() => Promise<void>) | undefined;
    let stopped = false;
    void this.db
      .listen(channel, (payload) => subscriber.onMessage(payload))
      .then((off) => {
        unlisten = off;
        if (stopped) void off().catch(() => undefined);
        else subscriber.onResync();
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
      void unlisten?.().catch(() => undefined);
    };
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.query("SELECT pg_notify($1, $2)", [channel, payload]);
  }

  async ping(timeoutMs: number): Promise<void> {
    this.check();
    await withTimeout(this.db.query("SELECT 1"), timeoutMs, "embedded database ping");
  }

  async close(): Promise<void> {
    this.isClosed = true;
    if (this.ownsDb && !this.db.closed) await this.db.close();
  }
}

/** Checks the path and prepares the directory; a regular file there is a one-line error. */
function prepareDirectory(dir: string): void {
  let isDir = false;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) {
      throw new AegisError(
        "invalid_argument",
        `AEGIS_AUDIT_DB=${dir} is a file, not a directory (an old SQLite database?); ` +
          `point it at a directory for the embedded store or at a postgres:// URL (SQLite data is not migrated)`,
      );
    }
    isDir = true;
  } catch (err) {
    if (err instanceof AegisError) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (!isDir) mkdirSync(dir, { recursive: true });
}

export interface EmbeddedDatabase {
  readonly driver: SqlDriver;
  /** The absolute directory, or `memory:`. */
  readonly location: string;
  /** Closes PGlite (when this created it) and releases the directory lock. */
  close(): Promise<void>;
}

/**
 * Opens (creating when needed) the embedded database at `location` (a directory or `memory:`).
 * Throws DirectoryLockedError when another live process has the directory.
 */
export async function openEmbedded(location: string = DEFAULT_EMBEDDED_DIR): Promise<EmbeddedDatabase> {
  if (location === MEMORY_LOCATION || location === "memory://") {
    const driver = new PGliteDriver(await PGlite.create());
    return { driver, location: MEMORY_LOCATION, close: () => driver.close() };
  }
  const dir = resolve(location);
  prepareDirectory(dir);
  const lock: DirectoryLock = await acquireDirectoryLock(join(dir, LOCK_FILE));
  let db: PGlite;
  try {
    const dataDir = join(dir, DATA_SUBDIR);
    mkdirSync(dataDir, { recursive: true });
    db = await PGlite.create({ dataDir });
  } catch (err) {
    lock.release();
    throw err;
  }
  const driver = new PGliteDriver(db);
  return {
    driver,
    location: dir,
    async close() {
      try {
        await driver.close();
      } finally {
        lock.release();
      }
    },
  };
}

/**
 * A driver over a PGlite instance the caller owns (close() leaves it open). With `schema`, the
 * tables live in that schema (created when missing; the instance's search_path is set to it),
 * so tests can share one instance and its 2-3 s cold start.
 */
export async function embeddedDriverOn(db: PGlite, options: { schema?: string } = {}): Promise<SqlDriver> {
  if (options.schema !== undefined) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`bad schema name ${options.schema}`);
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}; SET search_path TO ${options.schema}`);
  }
  return new PGliteDriver(db, false);
}
