// The agent registry, in the database so every replica sees the same agents (DESIGN §1): agents
// register and heartbeat (the original server's API), admins suspend and resume agent ids (the
// kill switch), registered or not. Evaluate reads suspensions on the hot path, so this process
// keeps them in memory, refreshed on every change from any replica (NOTIFY on `aegis_agents`),
// after the listening connection comes back, and by a poll that repairs what a notification
// missed: a suspension reaches every replica within SUSPENSION_POLL_MS at worst.
import { AegisError } from "../errors.js";
import { DATABASE_SUBJECT, type Database, toDatabaseError } from "../storage/index.js";

export const CHANNEL = "aegis_agents";
export const SUSPENSION_POLL_MS = 1000;
/** AEGIS_AGENT_HEARTBEAT_TIMEOUT's default: younger heartbeats are `alive`, older ones `stale`. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 60_000;

export interface AgentRecord {
  readonly agentId: string;
  readonly name: string;
  readonly framework: string;
  readonly version: string;
  readonly metadata: Record<string, unknown>;
  readonly registeredAt: Date;
  readonly lastHeartbeat: Date;
}

export interface AgentRegistration {
  readonly agentId: string;
  readonly name?: string | undefined;
  readonly framework?: string | undefined;
  readonly version?: string | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
}

export interface Suspension {
  readonly agentId: string;
  readonly reason: string;
  readonly suspendedBy: string;
  readonly suspendedAt: Date;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

const AGENT_COLUMNS = "agent_id, name, framework, version, metadata, registered_at, last_heartbeat";

function toAgent(row: Record<string, unknown>): AgentRecord {
  const metadata = typeof row["metadata"] === "string" ? JSON.parse(row["metadata"]) : row["metadata"];
  return {
    agentId: String(row["agent_id"]),
    name: String(row["name"]),
    framework: String(row["framework"] ?? ""),
    version: String(row["version"] ?? ""),
    metadata: metadata !== null && typeof metadata === "object" ? (metadata as Record<string, unknown>) : {},
    registeredAt: new Date(row["registered_at"] as string | Date),
    lastHeartbeat: new Date(row["last_heartbeat"] as string | Date),
  };
}

function toSuspension(row: Record<string, unknown>): Suspension {
  return {
    agentId: String(row["agent_id"]),
    reason: String(row["reason"]),
    suspendedBy: String(row["suspended_by"]),
    suspendedAt: new Date(row["suspended_at"] as string | Date),
  };
}

export class AgentRegistry {
  private suspensions = new Map<string, Suspension>();
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** Bumped by every local change, so a refresh that started before it cannot undo it. */
  private generation = 0;
  readonly heartbeatTimeoutMs: number;

  constructor(
    private readonly db: Database,
    options: { heartbeatTimeoutMs?: number | undefined; logger?: Logger | undefined } = {},
  ) {
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    this.logger = options.logger;
  }

  private readonly logger: Logger | undefined;

  /** Loads the suspensions and keeps them current (call once; close() stops it). */
  async start(): Promise<void> {
    this.unsubscribe = this.db.driver.subscribe(CHANNEL, {
      onMessage: () => void this.refresh(),
      onResync: () => void this.refresh(),
    });
    this.timer = setInterval(() => void this.refresh(), SUSPENSION_POLL_MS);
    this.timer.unref();
    await this.refresh();
  }

  /** The suspension of `agentId`, if any: synchronous, from memory (the evaluate hot path). */
  suspensionOf(agentId: string | undefined): Suspension | undefined {
    return agentId === undefined || this.suspensions.size === 0 ? undefined : this.suspensions.get(agentId);
  }

  get suspendedCount(): number {
    return this.suspensions.size;
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const generation = this.generation;
      try {
        await this.db.migrate();
        const { rows } = await this.db.driver.query(
          "SELECT agent_id, reason, suspended_by, suspended_at FROM agent_suspensions",
        );
        if (generation !== this.generation) return;
        this.suspensions = new Map(rows.map((r) => [String(r["agent_id"]), toSuspension(r)]));
      } catch (err) {
        // Keep the last known set: a database outage must not lift a suspension.
        this.logger?.warn(
          { component: "agents", err: err instanceof Error ? err.message : String(err) },
          "could not refresh agent suspensions; keeping the last known set",
        );
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async run<T = Record<string, unknown>>(
    what: string,
    text: string,
    params: unknown[],
  ): Promise<T[]> {
    try {
      await this.db.migrate();
      return (await this.db.driver.query<T>(text, params)).rows;
    } catch (err) {
      throw toDatabaseError(err, `agent registry ${what}`, DATABASE_SUBJECT);
    }
  }

  private async changed(): Promise<void> {
    await this.db.driver.notify(CHANNEL, "changed").catch(() => undefined);
  }

  /** Registers (or re-registers: updates and refreshes the heartbeat) an agent. */
  async register(r: AgentRegistration, by: string): Promise<AgentRecord> {
    const [row] = await this.run(
      "register",
      `INSERT INTO agents (agent_id, name, framework, version, metadata, registered_at, last_heartbeat, registered_by)
       VALUES ($1, $2, $3, $4, $5::jsonb, now(), now(), $6)
       ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name, framework = EXCLUDED.framework,
         version = EXCLUDED.version, metadata = EXCLUDED.metadata, registered_at = EXCLUDED.registered_at,
         last_heartbeat = EXCLUDED.last_heartbeat, registered_by = EXCLUDED.registered_by
       RETURNING ${AGENT_COLUMNS}`,
      [
        r.agentId,
        r.name ?? r.agentId,
        r.framework ?? "",
        r.version ?? "",
        JSON.stringify(r.metadata ?? {}),
        by,
      ],
    );
    if (row === undefined) throw new AegisError("internal", "agent registration returned no row");
    return toAgent(row);
  }

  /** False when the agent is not registered. */
  async heartbeat(agentId: string): Promise<boolean> {
    const rows = await this.run(
      "heartbeat",
      "UPDATE agents SET last_heartbeat = now() WHERE agent_id = $1 RETURNING agent_id",
      [agentId],
    );
    return rows.length > 0;
  }

  async get(agentId: string): Promise<AgentRecord | undefined> {
    const [row] = await this.run("read", `SELECT ${AGENT_COLUMNS} FROM agents WHERE agent_id = $1`, [
      agentId,
    ]);
    return row === undefined ? undefined : toAgent(row);
  }

  /** Registered agents by id; `aliveOnly`: heartbeats younger than the timeout. */
  async list(
    aliveOnly: boolean,
    limit = 10_000,
  ): Promise<{ agents: AgentRecord[]; total: number; alive: number }> {
    const cutoff = new Date(Date.now() - this.heartbeatTimeoutMs).toISOString();
    const rows = await this.run(
      "list",
      `SELECT ${AGENT_COLUMNS}, count(*) OVER () AS total,
              count(*) FILTER (WHERE last_heartbeat > $1::timestamptz) OVER () AS alive
       FROM agents ORDER BY agent_id LIMIT $2`,
      [cutoff, limit],
    );
    const agents = rows.map(toAgent);
    const total = Number(rows[0]?.["total"] ?? 0);
    const alive = Number(rows[0]?.["alive"] ?? 0);
    return { agents: aliveOnly ? agents.filter((a) => this.isAlive(a)) : agents, total, alive };
  }

  isAlive(a: AgentRecord, now = Date.now()): boolean {
    return now - a.lastHeartbeat.getTime() < this.heartbeatTimeoutMs;
  }

  /** False when the agent is not registered. */
  async remove(agentId: string): Promise<boolean> {
    const rows = await this.run("remove", "DELETE FROM agents WHERE agent_id = $1 RETURNING agent_id", [
      agentId,
    ]);
    return rows.length > 0;
  }

  /** Suspends an agent id (registered or not); suspending again replaces the reason. */
  async suspend(agentId: string, reason: string, by: string): Promise<Suspension> {
    const [row] = await this.run(
      "suspend",
      `INSERT INTO agent_suspensions (agent_id, reason, suspended_by, suspended_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (agent_id) DO UPDATE SET reason = EXCLUDED.reason, suspended_by = EXCLUDED.suspended_by,
         suspended_at = EXCLUDED.suspended_at
       RETURNING agent_id, reason, suspended_by, suspended_at`,
      [agentId, reason, by],
    );
    if (row === undefined) throw new AegisError("internal", "suspension returned no row");
    const s = toSuspension(row);
    this.generation++;
    this.suspensions = new Map(this.suspensions).set(agentId, s);
    await this.changed();
    return s;
  }

  /** False when the agent id was not suspended. */
  async resume(agentId: string): Promise<boolean> {
    const rows = await this.run(
      "resume",
      "DELETE FROM agent_suspensions WHERE agent_id = $1 RETURNING agent_id",
      [agentId],
    );
    this.generation++;
    const next = new Map(this.suspensions);
    next.delete(agentId);
    this.suspensions = next;
    await this.changed();
    return rows.length > 0;
  }

  close(): void {
    this.unsubscribe?.();
    clearInterval(this.timer);
  }
}
