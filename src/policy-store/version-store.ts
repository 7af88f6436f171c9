// Policy versions in the database, shared by every replica. Activations are serialised by a
// transaction-scoped advisory lock, so version ids grow in activation order: the active id only
// ever increases, and a replica that follows it never goes back to an older policy. The NOTIFY
// on `aegis_policy` is sent inside the activating transaction, so it is delivered at commit.
import { AegisError } from "../errors.js";
import { DATABASE_SUBJECT, type Database, type SqlSession, toDatabaseError } from "../storage/index.js";

export const POLICY_CHANNEL = "aegis_policy";
/** "AEGISPOL" read as a big-endian 64-bit integer. */
const ACTIVATION_LOCK_KEY = "4703243766112899916";

export type VersionSource = "file" | "api" | "rollback";

export interface VersionSummary {
  readonly id: number;
  /** The policy's content hash (the one decisions and audit rows carry). */
  readonly hash: string;
  readonly source: VersionSource;
  readonly principal: string;
  readonly message: string | null;
  readonly ruleCount: number;
  readonly createdAt: Date;
  /** The version a rollback re-activated. */
  readonly rollbackOf: number | null;
  /** SHA-256 of the file's bytes, for versions that came from the policy file. */
  readonly fileHash: string | null;
}

export interface PolicyVersion extends VersionSummary {
  /** The policy as given: YAML text (a JSON document from an object PUT is stored as JSON). */
  readonly text: string;
}

export interface Candidate {
  readonly text: string;
  readonly hash: string;
  readonly ruleCount: number;
  readonly source: VersionSource;
  readonly principal: string;
  readonly message?: string | undefined;
  readonly fileHash?: string | undefined;
  readonly rollbackOf?: number | undefined;
}

/** When an activation is skipped because nothing would change. */
export type ActivationCondition =
  /** Always activate (a PUT, a rollback). */
  | "always"
  /** A file at startup or on change: only if it differs from the last version from the file. */
  | "file-changed"
  /** The file is the only source: only if the active version is not this file content. */
  | "file-not-active";

const SUMMARY_COLUMNS =
  "v.id, v.hash, v.source, v.principal, v.message, v.rule_count, v.created_at, v.rollback_of, v.file_hash";

function toSummary(row: Record<string, unknown>): VersionSummary {
  return {
    id: Number(row["id"]),
    hash: String(row["hash"]),
    source: String(row["source"]) as VersionSource,
    principal: String(row["principal"]),
    message: row["message"] === null || row["message"] === undefined ? null : String(row["message"]),
    ruleCount: Number(row["rule_count"]),
    createdAt: new Date(row["created_at"] as string | Date),
    rollbackOf:
      row["rollback_of"] === null || row["rollback_of"] === undefined ? null : Number(row["rollback_of"]),
    fileHash: row["file_hash"] === null || row["file_hash"] === undefined ? null : String(row["file_hash"]),
  };
}

function toVersion(row: Record<string, unknown>): PolicyVersion {
  return { ...toSummary(row), text: String(row["policy_text"]) };
}

export class PolicyVersionStore {
  constructor(private readonly db: Database) {}

  private fail(err: unknown, what: string): never {
    throw toDatabaseError(err, `policy ${what}`, DATABASE_SUBJECT);
  }

  /** The id of the active version (cheap: the replicas' poll). */
  async activeId(): Promise<number | undefined> {
    try {
      await this.db.migrate();
      const { rows } = await this.db.driver.query("SELECT version_id FROM policy_active");
      return rows[0] === undefined ? undefined : Number(rows[0]["version_id"]);
    } catch (err) {
      return this.fail(err, "read");
    }
  }

  async get(id: number): Promise<PolicyVersion | undefined> {
    try {
      await this.db.migrate();
      const { rows } = await this.db.driver.query(
        `SELECT ${SUMMARY_COLUMNS}, v.policy_text FROM policy_versions v WHERE v.id = $1`,
        [id],
      );
      return rows[0] === undefined ? undefined : toVersion(rows[0]);
    } catch (err) {
      return this.fail(err, "read");
    }
  }

  async active(): Promise<PolicyVersion | undefined> {
    const id = await this.activeId();
    return id === undefined ? undefined : this.get(id);
  }

  /** Newest first; `beforeId` continues a listing (ids below it). */
  async list(
    limit: number,
    beforeId?: number,
  ): Promise<{ versions: VersionSummary[]; activeId: number | undefined }> {
    try {
      await this.db.migrate();
      const { rows } = await this.db.driver.query(
        `SELECT ${SUMMARY_COLUMNS} FROM policy_versions v
         WHERE ($1::bigint IS NULL OR v.id < $1::bigint) ORDER BY v.id DESC LIMIT $2`,
        [beforeId ?? null, limit],
      );
      return { versions: rows.map(toSummary), activeId: await this.activeId() };
    } catch (err) {
      return this.fail(err, "history");
    }
  }

  /**
   * Makes `candidate` the active version, unless `condition` says nothing would change; then the
   * active version is returned with `created: false`.
   */
  async activate(
    candidate: Candidate,
    condition: ActivationCondition = "always",
  ): Promise<{ version: PolicyVersion; created: boolean }> {
    try {
      await this.db.migrate();
      return await this.db.driver.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(${ACTIVATION_LOCK_KEY}::bigint)`);
        const active = await activeIn(tx);
        if (active !== undefined && condition !== "always") {
          const skip =
            condition === "file-not-active"
              ? active.fileHash === (candidate.fileHash ?? null) && active.hash === candidate.hash
              : (await lastFileHash(tx)) === (candidate.fileHash ?? null);
          if (skip) return { version: active, created: false };
        }
        const { rows } = await tx.query(
          `INSERT INTO policy_versions (hash, file_hash, policy_text, source, principal, message, rule_count, rollback_of)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id, hash, source, principal, message, rule_count, created_at, rollback_of, file_hash, policy_text`,
          [
            candidate.hash,
            candidate.fileHash ?? null,
            candidate.text,
            candidate.source,
            candidate.principal,
            candidate.message ?? null,
            candidate.ruleCount,
            candidate.rollbackOf ?? null,
          ],
        );
        const version = toVersion(rows[0] as Record<string, unknown>);
        await tx.query(
          `INSERT INTO policy_active (singleton, version_id, changed_at) VALUES (true, $1, now())
           ON CONFLICT (singleton) DO UPDATE SET version_id = EXCLUDED.version_id, changed_at = EXCLUDED.changed_at`,
          [version.id],
        );
        await tx.query("SELECT pg_notify($1, $2)", [POLICY_CHANNEL, String(version.id)]);
        return { version, created: true };
      });
    } catch (err) {
      if (err instanceof AegisError) throw err;
      return this.fail(err, "activation");
    }
  }
}

async function activeIn(tx: SqlSession): Promise<PolicyVersion | undefined> {
  const { rows } = await tx.query(
    `SELECT ${SUMMARY_COLUMNS}, v.policy_text FROM policy_active a JOIN policy_versions v ON v.id = a.version_id`,
  );
  return rows[0] === undefined ? undefined : toVersion(rows[0]);
}

/** The file hash of the newest version that came from the file; undefined when none did. */
async function lastFileHash(tx: SqlSession): Promise<string | null | undefined> {
  const { rows } = await tx.query(
    "SELECT file_hash FROM policy_versions WHERE source = 'file' ORDER BY id DESC LIMIT 1",
  );
  return rows[0] === undefined ? undefined : ((rows[0]["file_hash"] as string | null) ?? null);
}
