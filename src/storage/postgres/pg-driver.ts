// PostgreSQL through `pg` pools. Connections are made lazily, so a database that is down at
// startup or goes away later is an `unavailable` answer (and a not-ready server), never a crash;
// the pools reconnect by themselves when the database returns.
import pg from "pg";
import { AegisError } from "../../errors.js";
import type { SqlDriver, SqlRows, SqlSession, Subscriber } from "../sql-driver.js";
import { PgListener } from "./pg-listener.js";

export interface PostgresOptions {
  /** `postgres://` or `postgresql://` URL. */
  readonly url: string;
  /** Size of the query pool (default 10); group-commit flushes have one connection of their own. */
  readonly maxConnections?: number;
  /** A new connection must be up within this (default 1000 ms), so execute fails fast. */
  readonly connectTimeoutMs?: number;
  /** A write statement must answer within this (default 1500 ms), or its connection is dropped. */
  readonly writeTimeoutMs?: number;
  /** Called for errors of idle pooled connections (they are discarded and replaced anyway). */
  readonly onIdleError?: (err: Error) => void;
}

/**
 * Run on every connection of the write pool, before its first flush. The flush statement is
 * prepared once per connection and its generic plan kept; these settings leave its completion
 * UPDATE one shape whatever the statistics say: the listed ids read through the primary key and
 * hash-joined with the completions, O(rows in the flush). Measured without them: a plan made
 * while audit_log was small kept seq-scanning the growing table (executes/s halved until
 * autovacuum re-analysed), and a nested loop over the completions is quadratic in the flush size.
 * With the shape pinned, the generic plan is always used: PostgreSQL otherwise kept re-planning
 * each flush (0.16 ms of a 0.65 ms statement). test/audit/write-plan.test.ts checks the plan.
 */
export const WRITE_SESSION_SETUP =
  "SET enable_seqscan = off; SET enable_nestloop = off; SET enable_mergejoin = off; " +
  "SET plan_cache_mode = force_generic_plan";

const DEFAULT_WRITE_TIMEOUT_MS = 1500;

export function isPostgresUrl(value: string | undefined): value is string {
  return value !== undefined && /^postgres(ql)?:\/\//i.test(value.trim());
}

/** The URL with any password replaced, for logs and health output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

class PgDriver implements SqlDriver {
  /**
   * @param pool queries, migrations, pings
   * @param writePool the group-commit flushes (one at a time, so one connection), each session
   *   set up by WRITE_SESSION_SETUP (writePoolConfig)
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly writePool: pg.Pool,
    private readonly writeTimeoutMs: number,
    private readonly listener: PgListener,
  ) {}

  subscribe(channel: string, subscriber: Subscriber): () => void {
    return this.listener.subscribe(channel, subscriber);
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>> {
    const res = await this.pool.query(text, params as unknown[] | undefined);
    return { rows: res.rows as T[] };
  }

  async write<T>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>> {
    // pool.query releases the client with the error, which destroys it: a timed-out connection
    // is never reused.
    // A named (prepared) statement: the write SQL never changes, so each connection parses and
    // plans it once instead of once per flush.
    const res = await this.writePool.query({
      name: this.statementName(text),
      text,
      values: params as unknown[] | undefined,
      query_timeout: this.writeTimeoutMs,
    } as pg.QueryConfig);
    return { rows: res.rows as T[] };
  }

  private readonly names = new Map<string, string>();

  private statementName(text: string): string {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `aegis_write_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    return name;
  }

  async exec(text: string): Promise<void> {
    await this.pool.query(text);
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: SqlSession = {
      query: async <R>(text: string, params?: readonly unknown[]) => {
        const res = await client.query(text, params as unknown[] | undefined);
        return { rows: res.rows as R[] };
      },
      exec: async (text: string) => {
        await client.query(text);
      },
    };
    let failure: unknown;
    try {
      await client.query("BEGIN");
      const out = await fn(tx);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      failure = err;
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release(failure instanceof Error ? failure : undefined);
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    await this.pool.query({ text: "SELECT 1", query_timeout: timeoutMs } as pg.QueryConfig);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.writePool.end(), this.listener.close()]);
  }
}

function connectionConfig(options: PostgresOptions): pg.PoolConfig {
  return {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 1000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: "aegis",
  };
}

/**
 * The pool the flushes use: one connection (flushes run one at a time), set up by
 * WRITE_SESSION_SETUP before it is handed out; a setup that fails fails that flush.
 */
export function writePoolConfig(options: PostgresOptions): pg.PoolConfig {
  return {
    ...connectionConfig(options),
    max: 1,
    // The server gives up on a flush before this process does, so a flush answered `unavailable`
    // for its timeout has almost always been rolled back; reconciliation (batch-writer.ts) covers
    // the rest (a reply lost on the way back).
    statement_timeout: Math.max(100, (options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS) - 500),
    // pg-pool awaits this hook (its typings say void).
    onConnect: (async (client: pg.ClientBase) => {
      await client.query(WRITE_SESSION_SETUP);
    }) as unknown as (client: pg.ClientBase) => void,
  };
}

/**
 * The driver over two pools, queries (`maxConnections`) and the group-commit writer (one), and a
 * LISTEN connection made on the first subscription.
 */
export function createPgDriver(options: PostgresOptions): SqlDriver {
  if (!isPostgresUrl(options.url)) {
    throw new AegisError("invalid_argument", `not a postgres:// URL: ${redactUrl(options.url)}`);
  }
  const pool = new pg.Pool({ ...connectionConfig(options), max: options.maxConnections ?? 10 });
  const writePool = new pg.Pool(writePoolConfig(options));
  // Without a listener an idle connection's error (database restart, pg_terminate_backend, a cut
  // network) would be an unhandled 'error' event and kill the process.
  pool.on("error", (err) => options.onIdleError?.(err));
  writePool.on("error", (err) => options.onIdleError?.(err));
  const { connectionString, connectionTimeoutMillis, keepAlive, application_name } =
    connectionConfig(options);
  const listener = new PgListener({ connectionString, connectionTimeoutMillis, keepAlive, application_name });
  return new PgDriver(pool, writePool, options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, listener);
}
