import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compilePolicyObject, PolicyLoadError } from "../../src/policy/index.js";
import { checkRegex, compileRegexSearch, MAX_REGEX_LENGTH } from "../../src/policy/regex-safety.js";

describe("param_matches cannot stall: the ReDoS corpus on 50 KB of hostile input", () => {
  const hostile = [
    `${"a".repeat(50_000)}!`,
    "a".repeat(50_000),
    `${"a ".repeat(25_000)}!`,
    `${"aaaaaaaaa\n".repeat(5_000)}`,
    "b".repeat(50_000),
    Array.from({ length: 50_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join(""),
  ];
  const corpus: [string, boolean[]][] = [
    ["(a+)+$", [false, true, false, false, false, false]],
    ["(a|a)*$", [true, true, true, true, true, true]],
    ["(\\w+\\s?)*$", [true, true, true, true, true, true]],
    ["(.*a){20}", [true, true, true, false, false, false]], // no line holds 20 a's
    [".*a$", [false, true, false, false, false, false]],
    ["\\w+@\\w+\\.com", [false, false, false, false, false, false]],
    ["(x+x+)+y", [false, false, false, false, false, false]],
  ];
  for (const [source, expected] of corpus) {
    it(`${source} is accepted, answers like the native engine and finishes quickly`, () => {
      assert.equal(checkRegex(source), undefined);
      const search = compileRegexSearch(source);
      const started = performance.now();
      const got = hostile.map((text) => search(text));
      const elapsed = performance.now() - started;
      assert.deepEqual(got, expected);
      assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms for ${hostile.length} texts`);
    });
  }
  it("through a policy: a blocking rule with (a+)+$ decides quickly", () => {
    const p = compilePolicyObject({
      rules: [{ name: "nasty", conditions: { param_matches: { q: "(a+)+$" } }, approval: "block" }],
    });
    const started = performance.now();
    assert.equal(
      p.evaluate({ actionType: "x", target: "", params: { q: `${"a".repeat(50_000)}!` } }).matchedRule,
      "<default>",
    );
    assert.equal(
      p.evaluate({ actionType: "x", target: "", params: { q: "a".repeat(50_000) } }).matchedRule,
      "nasty",
    );
    assert.ok(performance.now() - started < 2000);
  });
});

describe("regexes rejected at load", () => {
  const table: [string, RegExp][] = [
    ["(a)\\1", /backreferences are not supported/],
    ["(?<x>a)\\k<x>", /backreferences are not supported/],
    ["a(?=b)", /lookahead and lookbehind/],
    ["(?<!a)b", /lookahead and lookbehind/],
    ["(?P<name>a)", /\(\?<name>\.\.\.\)/],
    ["(?i)abc", /inline flags/],
    ["\\Aabc", /use \^/],
    ["abc\\Z", /use \$/],
    ["(", /ECMAScript syntax/],
    ["a{2,1}", /ECMAScript syntax/],
    ["\\-", /ECMAScript syntax/],
    ["(a{1000}){1000}", /more than 256 states/],
    ["(?i:a)b", /modifier groups|ECMAScript syntax/],
    ["a".repeat(MAX_REGEX_LENGTH + 1), /at most 1000/],
  ];
  for (const [source, message] of table) {
    it(JSON.stringify(source.slice(0, 30)), () => {
      assert.match(checkRegex(source) ?? "accepted", message);
      assert.throws(
        () => compilePolicyObject({ rules: [{ conditions: { param_matches: { p: source } } }] }),
        (e: unknown) =>
          e instanceof PolicyLoadError && e.problems[0]?.path === "rules[0].conditions.param_matches.p",
      );
    });
  }
});

describe("the linear-time matcher agrees with the native engine", () => {
  const sources = [
    "a*b",
    "(ab|a)*c",
    "^a{2,3}$",
    "\\bfoo\\b",
    "x?y+",
    "[a-c]+\\d",
    "(a|b)*abb",
    ".+",
    "^$",
    "a|^b",
    "\\Bo",
    "(?:)",
    "é+",
    "😀{2}",
    "[^a]*$",
    "\\p{L}+1",
    "a{0,2}b",
    "(a?){3}a{3}",
    "\\s+\\S",
    "\\D\\W",
    "[\\w.-]+@x",
    "(?<g>ab)+",
    "^a|b$",
    "\\bx",
    "x\\b",
    "\\B",
    "(^|,)a(,|$)",
    "[^,]*,$",
    "\\b(a|b)+\\b$",
    "a{2,}",
    "\\u{1F600}",
    "\\x41+",
    "\\uD83D\\uDE00+",
    "[\\]\\\\]+",
    "\\.",
    "a.c",
    "\\n+$",
  ];
  it("on generated texts", () => {
    const text = fc
      .array(
        fc.constantFrom(
          "a",
          "b",
          "c",
          "x",
          "y",
          "1",
          " ",
          ".",
          "@",
          "-",
          "\n",
          "é",
          "😀",
          "A",
          "foo",
          "]",
          "\\",
        ),
        {
          maxLength: 12,
        },
      )
      .map((p) => p.join(""));
    const texts = fc.sample(text, { numRuns: 300, seed: 7 });
    const mismatches: string[] = [];
    for (const source of sources) {
      const ours = compileRegexSearch(source);
      const native = new RegExp(source, "u");
      for (const t of texts) {
        if (ours(t) !== native.test(t)) mismatches.push(`${source} on ${JSON.stringify(t)}`);
      }
    }
    assert.deepEqual(mismatches.slice(0, 10), []);
  });
});

describe("the linear-time matcher agrees with the native engine on generated regexes", () => {
  const regex: fc.Arbitrary<string> = fc.letrec<{ re: string; atom: string }>((tie) => ({
    atom: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom("a", "b", ".", "[ab]", "[^a]", "\\w", "\\s", "\\b", "\\B", "^", "$", "é", "\\d"),
      tie("re").map((r) => `(${r})`),
      tie("re").map((r) => `(?:${r})`),
    ),
    re: fc.oneof(
      { depthSize: "small" },
      tie("atom"),
      fc.tuple(tie("atom"), tie("atom")).map(([x, y]) => x + y),
      fc.tuple(tie("atom"), tie("atom")).map(([x, y]) => `${x}|${y}`),
      fc
        .tuple(tie("atom"), fc.constantFrom("*", "+", "?", "{2}", "{0,2}", "{1,}", "*?"))
        .map(([x, q]) => x + q),
    ),
  })).re;
  const text = fc
    .array(fc.constantFrom("a", "b", " ", "1", "é", "\n", "x"), { maxLength: 10 })
    .map((p) => p.join(""));
  it("random regexes and texts", () => {
    let compared = 0;
    fc.assert(
      fc.property(regex, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
        let native: RegExp;
        try {
          native = new RegExp(source, "u");
        } catch {
          return; // not valid ECMAScript (e.g. a quantified assertion): the loader rejects it
        }
        if (checkRegex(source) !== undefined) return;
        const ours = compileRegexSearch(source);
        for (const t of texts) assert.equal(ours(t), native.test(t), `${source} on ${JSON.stringify(t)}`);
        compared++;
      }),
      { numRuns: 1500, seed: 99 },
    );
    assert.ok(compared > 750, `only ${compared} regexes were valid`);
  });
});
