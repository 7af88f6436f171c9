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

/** What a LISTEN subscription calls. */
export interface Subscriber {
  /** One NOTIFY on the channel, with its payload. */
  onMessage(payload: string): void;
  /**
   * The listening connection was (re)made: notifications may have been missed meanwhile, so
   * re-read whatever they announce. Also called once the subscription is first live.
   */
  onResync(): void;
}

export interface SqlDriver extends SqlSession {
  /**
   * LISTEN on `channel` (a lower-case SQL identifier) until the returned function is called.
   * Delivery is best effort, as NOTIFY's is: keep a polling fallback for what must converge.
   */
  subscribe(channel: string, subscriber: Subscriber): () => void;
  /** NOTIFY `channel` with `payload` (at most 8000 bytes), after the current statement commits. */
  notify(channel: string, payload: string): Promise<void>;
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
