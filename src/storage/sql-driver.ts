// The few database operations the concerns that keep state need, implemented once per backend (pg
// pools, PGlite). Everything above this seam is backend-independent and uses the same SQL.

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
  /**
   * Like `query`, on the connection reserved for group-commit writes, bounded by the write timeout
   * so a dead connection fails fast.
   */
  write<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlRows<T>>;
  /** Runs `fn` inside BEGIN/COMMIT on one connection; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /** `SELECT 1` within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
