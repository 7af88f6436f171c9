// Preview before enforcing: recorded actions from the audit trail, replayed through the active
// policy and a candidate, counted per transition of the approval (`auto -> block`) with a few
// examples each. Read-only. The params are replayed as recorded, so a condition on a secret
// (redacted) param sees "[REDACTED]". Bounded: at most MAX_SIMULATION_ROWS rows, read in pages
// within the audit page byte budget.
import type { AuditQuery, AuditRecord } from "../audit/types.js";
import { PolicyEvaluationError } from "../policy/index.js";
import type { Decision, Policy } from "../policy/types.js";

export const DEFAULT_SIMULATION_ROWS = 10_000;
export const MAX_SIMULATION_ROWS = 100_000;
export const DEFAULT_EXAMPLES = 5;
export const MAX_EXAMPLES = 50;

export interface SimulationExample {
  readonly auditId: number;
  readonly actionType: string;
  readonly target: string;
  readonly agentId: string | null;
  readonly from: Decision;
  readonly to: Decision | undefined;
  /** The candidate refused the params (a type error). */
  readonly error?: string | undefined;
}

export interface SimulationTransition {
  readonly from: string;
  readonly to: string;
  count: number;
  readonly examples: SimulationExample[];
}

export interface SimulationResult {
  readonly replayed: number;
  readonly changed: number;
  readonly transitions: SimulationTransition[];
  readonly readSeconds: number;
  readonly evaluateSeconds: number;
}

export interface SimulationOptions {
  /** The audit filters and order of the sample; `limit` rows at most (capped). */
  readonly sample: Omit<AuditQuery, "limit" | "order" | "afterId">;
  readonly limit: number;
  readonly examples: number;
}

type Page = { records: AuditRecord[]; truncated: boolean };

function decideOrError(policy: Policy, r: AuditRecord): Decision | string {
  try {
    return policy.evaluate({
      actionType: r.action_type,
      target: r.action_target,
      params: r.action_params,
      agentId: r.agent_id ?? undefined,
    });
  } catch (err) {
    if (err instanceof PolicyEvaluationError) return err.message;
    throw err;
  }
}

export async function simulatePolicy(
  active: Policy,
  candidate: Policy,
  read: (q: AuditQuery) => Promise<Page>,
  options: SimulationOptions,
): Promise<SimulationResult> {
  const limit = Math.max(0, Math.min(options.limit, MAX_SIMULATION_ROWS));
  const examples = Math.max(0, Math.min(options.examples, MAX_EXAMPLES));
  const transitions = new Map<string, SimulationTransition>();
  let replayed = 0;
  let changed = 0;
  let readNs = 0n;
  let evalNs = 0n;
  let afterId: number | undefined;
  while (replayed < limit) {
    const want = Math.min(1000, limit - replayed);
    const t0 = process.hrtime.bigint();
    const page = await read({ ...options.sample, limit: want, order: "desc", afterId });
    const t1 = process.hrtime.bigint();
    readNs += t1 - t0;
    for (const r of page.records) {
      const a = decideOrError(active, r);
      const b = decideOrError(candidate, r);
      const fromApproval = typeof a === "string" ? "error" : a.approval;
      const toApproval = typeof b === "string" ? "error" : b.approval;
      const key = `${fromApproval} -> ${toApproval}`;
      let t = transitions.get(key);
      if (t === undefined) {
        t = { from: fromApproval, to: toApproval, count: 0, examples: [] };
        transitions.set(key, t);
      }
      t.count++;
      const differs =
        typeof a === "string" ||
        typeof b === "string" ||
        a.approval !== b.approval ||
        a.matchedRule !== b.matchedRule;
      if (differs) changed++;
      if (t.examples.length < examples && typeof a !== "string") {
        t.examples.push({
          auditId: r.id,
          actionType: r.action_type,
          target: r.action_target,
          agentId: r.agent_id,
          from: a,
          to: typeof b === "string" ? undefined : b,
          error: typeof b === "string" ? b : undefined,
        });
      }
    }
    evalNs += process.hrtime.bigint() - t1;
    replayed += page.records.length;
    const last = page.records[page.records.length - 1];
    if (last === undefined || (!page.truncated && page.records.length < want)) break;
    afterId = last.id;
  }
  return {
    replayed,
    changed,
    transitions: [...transitions.values()].sort((x, y) => y.count - x.count),
    readSeconds: Number(readNs) / 1e9,
    evaluateSeconds: Number(evalNs) / 1e9,
  };
}
