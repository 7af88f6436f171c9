import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePolicyObject, type Policy, PolicyEvaluationError } from "../../src/policy/index.js";

const ruleWith = (conditions: Record<string, unknown>, now?: () => Date): Policy =>
  compilePolicyObject({ rules: [{ name: "r", conditions, approval: "block" }] }, now ? { now } : {});
const decide = (p: Policy, params: Record<string, unknown>): string =>
  p.evaluate({ actionType: "a", target: "", params }).matchedRule;
const matched = (conditions: Record<string, unknown>, params: Record<string, unknown>): boolean =>
  decide(ruleWith(conditions), params) === "r";

describe("param operators", () => {
  const table: [
    label: string,
    conditions: Record<string, unknown>,
    params: Record<string, unknown>,
    expected: boolean,
  ][] = [
    ["eq string", { param_eq: { env: "prod" } }, { env: "prod" }, true],
    ["eq string differs", { param_eq: { env: "prod" } }, { env: "Prod" }, false],
    ["eq 1 equals 1.0", { param_eq: { n: 1 } }, { n: 1.0 }, true],
    ["eq true is not 1", { param_eq: { n: 1 } }, { n: true }, false],
    ["eq 1 is not true", { param_eq: { b: true } }, { b: 1 }, false],
    ["eq '1' is not 1", { param_eq: { n: 1 } }, { n: "1" }, false],
    ["eq array deep", { param_eq: { a: [1, { x: [2] }] } }, { a: [1, { x: [2] }] }, true],
    ["eq array order matters", { param_eq: { a: [1, 2] } }, { a: [2, 1] }, false],
    [
      "eq object deep, key order irrelevant",
      { param_eq: { o: { a: 1, b: 2 } } },
      { o: { b: 2, a: 1 } },
      true,
    ],
    ["eq object extra key", { param_eq: { o: { a: 1 } } }, { o: { a: 1, b: 2 } }, false],
    ["eq missing param", { param_eq: { env: "prod" } }, {}, false],
    ["eq null param", { param_eq: { env: "prod" } }, { env: null }, false],
    ["eq several params all hold", { param_eq: { a: 1, b: 2 } }, { a: 1, b: 2 }, true],
    ["eq several params one fails", { param_eq: { a: 1, b: 2 } }, { a: 1, b: 3 }, false],
    ["gt numbers", { param_gt: { n: 5 } }, { n: 6 }, true],
    ["gt equal", { param_gt: { n: 5 } }, { n: 5 }, false],
    ["gte equal", { param_gte: { n: 5 } }, { n: 5 }, true],
    ["lt", { param_lt: { n: 5 } }, { n: 4.5 }, true],
    ["lt equal", { param_lt: { n: 5 } }, { n: 5 }, false],
    ["lte equal", { param_lte: { n: 5 } }, { n: 5 }, true],
    ["lte larger", { param_lte: { n: 5 } }, { n: 6 }, false],
    ["gt strings lexicographic", { param_gt: { v: "b" } }, { v: "c" }, true],
    ["lt strings lexicographic", { param_lt: { v: "b" } }, { v: "abc" }, true],
    ["gt missing", { param_gt: { n: 5 } }, {}, false],
    ["gt null", { param_gt: { n: 5 } }, { n: null }, false],
    ["contains array member", { param_contains: { tags: "pii" } }, { tags: ["a", "pii"] }, true],
    ["contains array deep member", { param_contains: { l: { a: 1 } } }, { l: [{ a: 1 }] }, true],
    ["contains array number 1 vs true", { param_contains: { l: 1 } }, { l: [true] }, false],
    ["contains array not member", { param_contains: { tags: "pii" } }, { tags: ["a"] }, false],
    ["contains substring", { param_contains: { q: "DROP" } }, { q: "x; DROP TABLE" }, true],
    ["contains substring absent", { param_contains: { q: "DROP" } }, { q: "drop" }, false],
    ["contains object key", { param_contains: { h: "authorization" } }, { h: { authorization: "x" } }, true],
    ["contains object key absent", { param_contains: { h: "authorization" } }, { h: { other: 1 } }, false],
    ["contains inherited key is not a key", { param_contains: { h: "toString" } }, { h: {} }, false],
    ["contains missing", { param_contains: { tags: "pii" } }, {}, false],
    ["matches unanchored search", { param_matches: { path: "\\.csv$" } }, { path: "data/x.csv" }, true],
    ["matches in the middle", { param_matches: { path: "secret" } }, { path: "my-secret-file" }, true],
    ["matches anchored miss", { param_matches: { path: "^secret" } }, { path: "my-secret-file" }, false],
    ["matches case-sensitive", { param_matches: { path: "Secret" } }, { path: "secret" }, false],
    ["matches missing", { param_matches: { path: "x" } }, {}, false],
    ["prototype names are not params", { param_eq: { constructor: "x" } }, {}, false],
    ["all operators must hold", { param_gt: { n: 1 }, param_lt: { n: 3 } }, { n: 2 }, true],
    ["all operators must hold (one fails)", { param_gt: { n: 1 }, param_lt: { n: 3 } }, { n: 3 }, false],
  ];
  for (const [label, conditions, params, expected] of table) {
    it(label, () => assert.equal(matched(conditions, params), expected));
  }
});

describe("type errors are evaluation errors, never silently false", () => {
  const table: [
    label: string,
    conditions: Record<string, unknown>,
    params: Record<string, unknown>,
    op: string,
    param: string,
  ][] = [
    ["string vs number", { param_gt: { n: 5 } }, { n: "6" }, "param_gt", "n"],
    ["boolean vs number", { param_lte: { n: 5 } }, { n: true }, "param_lte", "n"],
    ["number vs string", { param_lt: { v: "b" } }, { v: 1 }, "param_lt", "v"],
    ["array vs number", { param_gte: { n: 5 } }, { n: [6] }, "param_gte", "n"],
    ["matches on a number", { param_matches: { p: "x" } }, { p: 5 }, "param_matches", "p"],
    ["matches on an array", { param_matches: { p: "x" } }, { p: ["x"] }, "param_matches", "p"],
    ["contains on a number", { param_contains: { p: "x" } }, { p: 5 }, "param_contains", "p"],
    ["contains on a boolean", { param_contains: { p: "x" } }, { p: false }, "param_contains", "p"],
    ["contains number in a string", { param_contains: { p: 1 } }, { p: "a1" }, "param_contains", "p"],
    [
      "contains number as object key",
      { param_contains: { p: 1 } },
      { p: { "1": true } },
      "param_contains",
      "p",
    ],
  ];
  for (const [label, conditions, params, op, param] of table) {
    it(label, () => {
      assert.throws(
        () => decide(ruleWith(conditions), params),
        (e: unknown) =>
          e instanceof PolicyEvaluationError &&
          e.rule === "r" &&
          e.operator === op &&
          e.param === param &&
          e.message.includes('"r"') &&
          e.message.includes(`"${param}"`),
      );
    });
  }
});

describe("time windows and weekdays with a fixed clock", () => {
  // 2026-11-26 is a Thursday (ISO 4).
  const at = (iso: string) => () => new Date(iso);
  const table: [label: string, conditions: Record<string, unknown>, now: string, expected: boolean][] = [
    ["after inclusive", { time_after: "09:00" }, "2026-11-26T09:00:00Z", true],
    ["after: before the time", { time_after: "09:00" }, "2026-11-26T08:59:59Z", false],
    ["before exclusive", { time_before: "17:00" }, "2026-11-26T17:00:00Z", false],
    ["before: just before", { time_before: "17:00" }, "2026-11-26T16:59:59Z", true],
    ["day window inside", { time_after: "09:00", time_before: "17:00" }, "2026-11-26T12:00:00Z", true],
    ["day window outside", { time_after: "09:00", time_before: "17:00" }, "2026-11-26T18:00:00Z", false],
    ["wrap: late evening", { time_after: "22:00", time_before: "06:00" }, "2026-11-26T23:30:00Z", true],
    ["wrap: early morning", { time_after: "22:00", time_before: "06:00" }, "2026-11-26T05:59:00Z", true],
    ["wrap: 06:00 is outside", { time_after: "22:00", time_before: "06:00" }, "2026-11-26T06:00:00Z", false],
    ["wrap: noon is outside", { time_after: "22:00", time_before: "06:00" }, "2026-11-26T12:00:00Z", false],
    ["wrap: 22:00 is inside", { time_after: "22:00", time_before: "06:00" }, "2026-11-26T22:00:00Z", true],
    [
      "empty window never matches",
      { time_after: "10:00", time_before: "10:00" },
      "2026-11-26T10:00:00Z",
      false,
    ],
    ["single-digit hour accepted", { time_after: "9:30" }, "2026-11-26T09:30:00Z", true],
    ["weekday Thursday", { weekdays: [4] }, "2026-11-26T12:00:00Z", true],
    ["weekday not Thursday", { weekdays: [1, 2, 3, 5] }, "2026-11-26T12:00:00Z", false],
    ["Sunday is 7", { weekdays: [7] }, "2026-11-29T12:00:00Z", true],
    [
      "timezone shifts the hour",
      { time_after: "09:00", timezone: "Europe/Paris" },
      "2026-11-26T08:30:00Z",
      true,
    ],
    ["timezone: UTC would say no", { time_after: "09:00" }, "2026-11-26T08:30:00Z", false],
    ["timezone shifts the day", { weekdays: [5], timezone: "Asia/Tokyo" }, "2026-11-26T20:00:00Z", true],
    [
      "timezone with wrap",
      { time_after: "22:00", time_before: "06:00", timezone: "America/New_York" },
      "2026-11-27T04:00:00Z",
      true,
    ],
    [
      "time and params both needed",
      { time_after: "09:00", param_eq: { a: 1 } },
      "2026-11-26T10:00:00Z",
      false,
    ],
  ];
  for (const [label, conditions, now, expected] of table) {
    it(label, () => assert.equal(decide(ruleWith(conditions, at(now)), {}) === "r", expected));
  }
  it("the clock is read only for rules with time conditions, after their param conditions hold", () => {
    let reads = 0;
    const clock = () => {
      reads++;
      return new Date("2026-11-26T10:00:00Z");
    };
    const p = compilePolicyObject(
      {
        rules: [
          { name: "plain", match: { type: "plain" } },
          {
            name: "timed",
            match: { type: "timed" },
            conditions: { param_eq: { a: 1 }, time_after: "09:00" },
          },
        ],
      },
      { now: clock },
    );
    p.evaluate({ actionType: "plain", target: "", params: {} });
    p.evaluate({ actionType: "timed", target: "", params: { a: 2 } });
    assert.equal(reads, 0);
    assert.equal(p.evaluate({ actionType: "timed", target: "", params: { a: 1 } }).matchedRule, "timed");
    assert.equal(reads, 1);
  });
});

describe("non-finite param values never decide a comparison", () => {
  // NaN compares false both ways: a blocking `param_gt` and an allowing `param_lte` would both miss
  // it and the action would fall through to whatever comes next.
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    for (const op of ["param_gt", "param_lt", "param_gte", "param_lte"]) {
      it(`${op} on ${value} is an evaluation error`, () => {
        assert.throws(
          () => decide(ruleWith({ [op]: { amount: 100 } }), { amount: value }),
          (e: unknown) =>
            e instanceof PolicyEvaluationError &&
            e.operator === op &&
            e.param === "amount" &&
            e.message.includes("finite") &&
            e.message.includes(String(value)),
        );
      });
    }
  }
  it("the error surfaces only when no earlier rule matched (first-match order is kept)", () => {
    const p = compilePolicyObject({
      rules: [
        { name: "first", match: { type: "safe" } },
        { name: "big", conditions: { param_gt: { amount: 100 } }, approval: "block" },
      ],
    });
    assert.equal(
      p.evaluate({ actionType: "safe", target: "", params: { amount: Number.NaN } }).matchedRule,
      "first",
    );
    assert.throws(
      () => p.evaluate({ actionType: "x", target: "", params: { amount: Number.NaN } }),
      PolicyEvaluationError,
    );
  });
  it("finite numbers and string comparisons are unaffected", () => {
    assert.equal(matched({ param_gt: { n: 5 } }, { n: Number.MAX_VALUE }), true);
    assert.equal(matched({ param_lt: { n: 5 } }, { n: -Number.MAX_VALUE }), true);
    assert.equal(matched({ param_gte: { n: 0 } }, { n: -0 }), true);
    assert.equal(matched({ param_lt: { v: "b" } }, { v: "a" }), true);
  });
});
