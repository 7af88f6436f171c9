import assert from "node:assert/strict";
import { test } from "node:test";
import { AegisError } from "../../../src/errors.js";
import { parseAuditQuery } from "../../../src/server/rest/audit-query.js";

const parse = (qs: string) => parseAuditQuery(new URLSearchParams(qs));

function rejectsNaming(qs: string, param: string): void {
  assert.throws(
    () => parse(qs),
    (err: unknown) =>
      err instanceof AegisError && err.code === "invalid_argument" && err.message.includes(param),
    qs,
  );
}

test("defaults: limit 1000, order asc, no filters", () => {
  const q = parse("");
  assert.equal(q.limit, 1000);
  assert.equal(q.order, "asc");
  assert.equal(q.sessionId, undefined);
  assert.equal(q.afterId, undefined);
});

test("limit: 0 gives 0, capped at 10000, anything else unparsable is a 400 naming limit", () => {
  assert.equal(parse("limit=0").limit, 0);
  assert.equal(parse("limit=20").limit, 20);
  assert.equal(parse("limit=10000").limit, 10000);
  assert.equal(parse("limit=99999999").limit, 10000);
  for (const bad of ["-1", "abc", "1.5", "1e3", "0x10", "99999999999999999999"])
    rejectsNaming(`limit=${bad}`, "limit");
});

test("filters, risk_level in any case, order, after_id", () => {
  const q = parse(
    "session_id=s&action_type=delete&risk_level=critical&result_status=blocked&agent_id=a&matched_rule=r&order=DESC&after_id=42",
  );
  assert.equal(q.sessionId, "s");
  assert.equal(q.actionType, "delete");
  assert.equal(q.riskLevel, "CRITICAL");
  assert.equal(q.resultStatus, "blocked");
  assert.equal(q.agentId, "a");
  assert.equal(q.matchedRule, "r");
  assert.equal(q.order, "desc");
  assert.equal(q.afterId, 42);
  assert.equal(parse("risk_level=High").riskLevel, "HIGH");
  rejectsNaming("risk_level=extreme", "risk_level");
  rejectsNaming("order=sideways", "order");
  rejectsNaming("after_id=x", "after_id");
  rejectsNaming("after_id=-3", "after_id");
});

test("since / until: RFC 3339 with Z or an offset; anything else a 400 naming the parameter", () => {
  assert.equal(parse("since=2026-01-31T12:00:00Z").since?.toISOString(), "2026-01-31T12:00:00.000Z");
  assert.equal(parse("until=2026-01-31T12:00:00.5%2B01:00").until?.toISOString(), "2026-01-31T11:00:00.500Z");
  for (const bad of [
    "yesterday",
    "2026-01-31",
    "2026-01-31T12:00:00",
    "1700000000",
    "2026-13-01T00:00:00Z",
  ]) {
    rejectsNaming(`since=${encodeURIComponent(bad)}`, "since");
    rejectsNaming(`until=${encodeURIComponent(bad)}`, "until");
  }
});

test("plain objects work as well as URLSearchParams; empty values are absent", () => {
  const q = parseAuditQuery({ limit: "5", session_id: "", order: ["desc", "asc"] });
  assert.equal(q.limit, 5);
  assert.equal(q.sessionId, undefined);
  assert.equal(q.order, "desc");
});
