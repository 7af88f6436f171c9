// What changes between two policies, rule by rule: rules added and removed (by name), rules on
// both sides whose fields differ, rules that moved (first match wins, so order is meaning), and
// changed defaults. Pure; the API (`POST /api/v1/policy:diff`) and `aegis diff` print the same.
import { canonicalJson } from "./private/canonical-json.js";
import { escapeUnsafe } from "./private/quote.js";
import type { PolicyView, RuleView } from "./types.js";

export interface FieldChange {
  readonly field: string;
  readonly from: unknown;
  readonly to: unknown;
}

export interface RuleChange {
  readonly name: string;
  readonly fields: readonly FieldChange[];
}

export interface PolicyDiff {
  readonly defaults: readonly FieldChange[];
  readonly added: readonly RuleView[];
  readonly removed: readonly RuleView[];
  readonly changed: readonly RuleChange[];
}

const RULE_FIELDS = [
  "match_type",
  "match_target",
  "match_agent",
  "conditions",
  "risk_level",
  "approval",
] as const;

function same(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

export function diffPolicies(from: PolicyView, to: PolicyView): PolicyDiff {
  const defaults: FieldChange[] = [];
  for (const field of ["default_risk_level", "default_approval"] as const) {
    if (from[field] !== to[field]) defaults.push({ field, from: from[field], to: to[field] });
  }
  const before = new Map(from.rules.map((r, i) => [r.name, { rule: r, index: i }]));
  const after = new Map(to.rules.map((r, i) => [r.name, { rule: r, index: i }]));
  const added = to.rules.filter((r) => !before.has(r.name));
  const removed = from.rules.filter((r) => !after.has(r.name));
  // A rule moved when its place among the rules both sides share changed.
  const sharedBefore = from.rules.filter((r) => after.has(r.name)).map((r) => r.name);
  const sharedAfter = to.rules.filter((r) => before.has(r.name)).map((r) => r.name);
  const changed: RuleChange[] = [];
  for (const r of to.rules) {
    const old = before.get(r.name);
    if (old === undefined) continue;
    const fields: FieldChange[] = [];
    for (const field of RULE_FIELDS) {
      if (!same(old.rule[field], r[field])) fields.push({ field, from: old.rule[field], to: r[field] });
    }
    const was = sharedBefore.indexOf(r.name);
    const now = sharedAfter.indexOf(r.name);
    if (was !== now) fields.push({ field: "position", from: old.index, to: after.get(r.name)?.index });
    if (fields.length > 0) changed.push({ name: r.name, fields });
  }
  return { defaults, added, removed, changed };
}

/** The diff as lines for a terminal: `+ rule`, `- rule`, `~ rule: field: a -> b`. */
export function formatDiff(d: PolicyDiff): string[] {
  const show = (v: unknown) => escapeUnsafe(v === undefined ? "null" : canonicalJson(v ?? null));
  const lines: string[] = [];
  for (const c of d.defaults) lines.push(`~ ${c.field}: ${show(c.from)} -> ${show(c.to)}`);
  const rule = (r: RuleView) =>
    `${escapeUnsafe(r.name)} (${escapeUnsafe(r.match_type)} -> ${r.risk_level}/${r.approval})`;
  for (const r of d.removed) lines.push(`- ${rule(r)}`);
  for (const r of d.added) lines.push(`+ ${rule(r)}`);
  for (const c of d.changed) {
    for (const f of c.fields)
      lines.push(`~ ${escapeUnsafe(c.name)}: ${f.field}: ${show(f.from)} -> ${show(f.to)}`);
  }
  return lines;
}
