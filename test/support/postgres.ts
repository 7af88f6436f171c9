// PostgreSQL for tests: the admin URL of a reachable server, per-test databases, and the loud
// notice when PostgreSQL is not reachable (never a silent skip).
import { randomBytes } from "node:crypto";
import pg from "pg";

export const DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres";

let pgProbe: Promise<string | null> | null = null;

/**
 * The admin URL of a reachable PostgreSQL, or null. `DATABASE_URL` when set (then unreachable is
 * an error, not a skip: CI exports it only after PostgreSQL is up), else the local default.
 */
export function postgresUrl(): Promise<string | null> {
  pgProbe ??= (async () => {
    const explicit = process.env["DATABASE_URL"];
    const url = explicit || DEFAULT_PG_URL;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return url;
    } catch (err) {
      if (explicit) {
        throw new Error(`DATABASE_URL is set but PostgreSQL is not reachable: ${(err as Error).message}`);
      }
      return null;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return pgProbe;
}

export function loudNotRun(what: string): void {
  const line = "!".repeat(100);
  console.error(
    `\n${line}\n!!! PostgreSQL NOT REACHABLE at ${DEFAULT_PG_URL} (and DATABASE_URL unset):\n` +
      `!!! DID NOT RUN: ${what}\n${line}\n`,
  );
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a fresh database; returns its URL and a function that drops it. */
export async function createTestDatabase(
  adminUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `aegis_test_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(adminUrl, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
