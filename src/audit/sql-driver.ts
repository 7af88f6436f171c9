// The few database operations the audit store needs, implemented once per backend (pg pool,
// PGlite). Everything above this line is backend-independent and uses the same SQL.

export interface SqlRows<T> {
  readonly rows: T[];
}

export interface SqlSession {
  /** One statement with `$n` parameters. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>>;
  /** Several statements, no parameters (migrations). */
  exec(text: string): Promise<void>;
}

export interface SqlDriver extends SqlSession {
  /** Like `query`, for writes: bounded by the driver's write timeout so a dead connection fails fast. */
  write<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>>;
  /** Runs `fn` inside BEGIN/COMMIT on one connection; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /** `SELECT 1` within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
