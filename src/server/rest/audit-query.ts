// The REST query string of GET /api/v1/audit -> AuditQuery (DESIGN §3, §3.1). Shared so every
// transport applies the same defaults and bounds; errors are `invalid_argument` naming the parameter.

import { type AuditQuery, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from "../../audit/types.js";
import { AegisError } from "../../errors.js";
import { RISK_LEVELS } from "../../policy/index.js";
import type { RiskLevel } from "../../policy/types.js";

// RFC 3339 date-time: full date, 'T' (or t / space), time with optional fraction, Z or an offset.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function bad(param: string, value: string, expected: string): AegisError {
  return new AegisError(
    "invalid_argument",
    `invalid ${param} ${JSON.stringify(value)}: expected ${expected}`,
  );
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * Parses an RFC 3339 timestamp, or throws naming `param`. Every field is range-checked first:
 * `Date` would roll 2026-02-30 over to March 2nd and 24:00 over to the next day.
 */
export function parseRfc3339(param: string, value: string): Date {
  const expected = "an RFC 3339 timestamp such as 2026-01-31T12:00:00Z";
  const m = RFC3339.exec(value.trim());
  if (!m) throw bad(param, value, expected);
  const [, y, mo, d, h, mi, s, , zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const offset = /^[+-](\d{2}):(\d{2})$/.exec(zone!);
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    Number(h) <= 23 &&
    Number(mi) <= 59 &&
    Number(s) <= 59 &&
    (offset === null || (Number(offset[1]) <= 23 && Number(offset[2]) <= 59));
  if (!valid) throw bad(param, value, `${expected} (that date or time does not exist)`);
  const date = new Date(value.trim().replace(" ", "T"));
  if (Number.isNaN(date.getTime())) throw bad(param, value, expected);
  return date;
}

function parseNonNegativeInt(param: string, value: string, max: number): number {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw bad(param, value, "a non-negative integer");
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw bad(param, value, `an integer up to ${max}`);
  return Math.min(n, max);
}

export type QueryParams = URLSearchParams | Readonly<Record<string, string | readonly string[] | undefined>>;

function getter(params: QueryParams): (name: string) => string | undefined {
  if (params instanceof URLSearchParams) return (name) => params.get(name) ?? undefined;
  return (name) => {
    const v = params[name];
    if (v === undefined) return undefined;
    return typeof v === "string" ? v : v[0];
  };
}

/**
 * Query-string parameters -> AuditQuery. Empty values count as absent. `limit`: default 1000,
 * capped at 10000, `0` gives no rows; `risk_level` any case; `since` inclusive, `until` exclusive;
 * `order` asc (default) or desc; `after_id` a cursor in the chosen order. Unknown parameters are
 * ignored.
 */
export function parseAuditQuery(params: QueryParams): AuditQuery {
  const get = getter(params);
  const str = (name: string): string | undefined => {
    const v = get(name);
    return v === undefined || v === "" ? undefined : v;
  };

  const riskRaw = str("risk_level");
  let riskLevel: RiskLevel | undefined;
  if (riskRaw !== undefined) {
    const upper = riskRaw.trim().toUpperCase();
    if (!(RISK_LEVELS as readonly string[]).includes(upper))
      throw bad("risk_level", riskRaw, "LOW, MEDIUM, HIGH or CRITICAL");
    riskLevel = upper as RiskLevel;
  }

  // Not validated: an unknown status simply matches nothing (as in the original server).
  const statusRaw = str("result_status");
  const resultStatus = statusRaw === undefined ? undefined : statusRaw.trim().toLowerCase();

  const limitRaw = str("limit");
  const limit =
    limitRaw === undefined ? DEFAULT_AUDIT_LIMIT : parseNonNegativeInt("limit", limitRaw, MAX_AUDIT_LIMIT);

  const orderRaw = str("order");
  let order: "asc" | "desc" = "asc";
  if (orderRaw !== undefined) {
    const o = orderRaw.trim().toLowerCase();
    if (o !== "asc" && o !== "desc") throw bad("order", orderRaw, "asc or desc");
    order = o;
  }

  const afterRaw = str("after_id");
  const afterId =
    afterRaw === undefined ? undefined : parseNonNegativeInt("after_id", afterRaw, Number.MAX_SAFE_INTEGER);

  const sinceRaw = str("since");
  const untilRaw = str("until");
  return {
    sessionId: str("session_id"),
    actionType: str("action_type"),
    riskLevel,
    resultStatus,
    agentId: str("agent_id"),
    matchedRule: str("matched_rule"),
    principal: str("principal"),
    since: sinceRaw === undefined ? undefined : parseRfc3339("since", sinceRaw),
    until: untilRaw === undefined ? undefined : parseRfc3339("until", untilRaw),
    limit,
    order,
    afterId,
  };
}
