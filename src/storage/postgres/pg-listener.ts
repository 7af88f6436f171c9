// LISTEN/NOTIFY for PostgreSQL on one dedicated connection (a pooled one could be handed to a query
// mid-LISTEN, and a pooler in transaction mode would drop the LISTEN). The connection is made on
// the first subscription and remade after it fails, with backoff; every (re)connect tells each
// subscriber to resynchronise, because notifications sent while disconnected are lost.
import pg from "pg";
import type { Subscriber } from "../sql-driver.js";

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

function quoteIdent(channel: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad notification channel ${channel}`);
  return channel;
}

export class PgListener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly config: pg.ClientConfig) {}

  subscribe(channel: string, subscriber: Subscriber): () => void {
    const name = quoteIdent(channel);
    let set = this.subscribers.get(name);
    const fresh = set === undefined;
    if (!set) {
      set = new Set();
      this.subscribers.set(name, set);
    }
    set.add(subscriber);
    if (this.client && fresh) {
      void this.client.query(`LISTEN ${name}`).catch(() => this.reconnectSoon());
    } else if (!this.client) {
      this.ensureConnected();
    }
    return () => {
      set.delete(subscriber);
      if (set.size === 0) {
        this.subscribers.delete(name);
        void this.client?.query(`UNLISTEN ${name}`).catch(() => undefined);
      }
    };
  }

  private ensureConnected(): void {
    if (this.closed || this.connecting || this.client) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("error", () => this.drop(client));
    client.on("end", () => this.drop(client));
    client.on("notification", (msg) => {
      for (const s of this.subscribers.get(msg.channel) ?? []) s.onMessage(msg.payload ?? "");
    });
    try {
      await client.connect();
      for (const channel of this.subscribers.keys()) await client.query(`LISTEN ${channel}`);
    } catch {
      client.end().catch(() => undefined);
      this.reconnectSoon();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RETRY_MIN_MS;
    for (const set of this.subscribers.values()) for (const s of set) s.onResync();
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.reconnectSoon();
  }

  private reconnectSoon(): void {
    if (this.closed || this.retryTimer || this.subscribers.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensureConnected();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
