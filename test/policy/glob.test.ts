import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkGlob, compileGlob, MAX_GLOB_LENGTH } from "../../src/policy/glob.js";
import { PolicyLoadError, parsePolicy } from "../../src/policy/index.js";
import { fnmatchcase } from "./fnmatch-oracle.js";

describe("glob: fnmatch semantics (table)", () => {
  const table: [pattern: string, text: string, expected: boolean][] = [
    ["*", "", true],
    ["*", "anything/at all.csv", true],
    ["**", "a/b/c", true],
    ["*.csv", "data/2024/report.csv", true],
    ["*.csv", "report.csv.bak", false],
    ["read*", "read", true],
    ["read*", "read_file", true],
    ["read*", "Read_file", false],
    ["prod_*", "Prod_db", false],
    ["prod_*", "prod_db", true],
    ["?", "a", true],
    ["?", "/", true],
    ["?", "\n", true],
    ["?", "", false],
    ["?", "ab", false],
    ["?", "😀", true],
    ["a?c", "abc", true],
    ["a*c", "a\nb\nc", true],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxcyyb", false],
    ["*a*a*a*a*b", `${"a".repeat(5000)}`, false],
    ["[abc]", "b", true],
    ["[abc]", "d", false],
    ["[a-z]", "q", true],
    ["[a-z]", "Q", false],
    ["[!abc]", "d", true],
    ["[!abc]", "a", false],
    ["[!a-z]", "/", true],
    ["[!a]", "!", true],
    ["[!a]", "a", false],
    ["[]]", "]", true],
    ["[!]]", "a", true],
    ["[!]]", "]", false],
    ["[a-]", "-", true],
    ["[z-a]", "m", false],
    ["[!z-a]", "m", true],
    ["[", "[", true],
    ["[a", "[a", true],
    ["a]", "a]", true],
    ["[\\]", "\\", true],
    ["\\*", "\\abc", true],
    ["\\*", "*", false],
    ["{a,b}", "a", false],
    ["{a,b}", "{a,b}", true],
    ["(a|b)", "(a|b)", true],
    ["a+", "aa", false],
    ["a+", "a+", true],
    ["@(x)", "@(x)", true],
    ["!(x)", "!(x)", true],
    ["!x", "!x", true],
    ["!x", "y", false],
    ["a.b", "axb", false],
    ["^a$", "^a$", true],
    ["*ab*", "xxabyy", true],
    ["*ab*", "xxa/byy", false],
    ["a*bc*d", "abcd", true],
    ["a*bc*d", "abd", false],
    ["a*bc*d", "axbcxd", true],
    ["ab*b*ba", "abba", false],
    ["ab*b*ba", "abbba", true],
    ["", "", true],
    ["", "a", false],
  ];
  for (const [pattern, text, expected] of table) {
    it(`${JSON.stringify(pattern)} ${expected ? "matches" : "does not match"} ${JSON.stringify(text).slice(0, 40)}`, () => {
      assert.equal(compileGlob(pattern).test(text), expected);
    });
  }
  it("agrees with Python on the whole table", () => {
    const oracle = fnmatchcase(table.map(([p, t]) => [p, t] as const));
    assert.deepEqual(
      oracle,
      table.map(([, , e]) => e),
    );
  });
});

describe("glob: shape, literal prefix and suffix (what the rule index relies on)", () => {
  const table: [string, { shape: string; prefix: string; suffix: string; matchesAll: boolean }][] = [
    ["*", { shape: "all", prefix: "", suffix: "", matchesAll: true }],
    ["***", { shape: "all", prefix: "", suffix: "", matchesAll: true }],
    ["read", { shape: "exact", prefix: "read", suffix: "", matchesAll: false }],
    ["read*", { shape: "prefix", prefix: "read", suffix: "", matchesAll: false }],
    ["*_delete", { shape: "suffix", prefix: "", suffix: "_delete", matchesAll: false }],
    ["a*b", { shape: "other", prefix: "a", suffix: "b", matchesAll: false }],
    ["re[ab]d*", { shape: "other", prefix: "re", suffix: "", matchesAll: false }],
    ["[x", { shape: "exact", prefix: "[x", suffix: "", matchesAll: false }],
    ["?*", { shape: "other", prefix: "", suffix: "", matchesAll: false }],
  ];
  for (const [pattern, want] of table) {
    it(pattern, () => {
      const g = compileGlob(pattern);
      assert.deepEqual(
        { shape: g.shape, prefix: g.prefix, suffix: g.suffix, matchesAll: g.matchesAll },
        want,
      );
    });
  }
});

describe("glob: property-based, against Python's fnmatch.fnmatchcase", () => {
  const alphabet = [
    "a",
    "b",
    "c",
    "-",
    "/",
    ".",
    "\n",
    "\\",
    "[",
    "]",
    "!",
    "{",
    "}",
    "(",
    ")",
    "+",
    "@",
    "*",
    "?",
    "^",
    "z",
  ];
  const char = fc.constantFrom(...alphabet);
  const str = (max: number) => fc.array(char, { maxLength: max }).map((cs) => cs.join(""));
  // Texts built from the pattern match far more often than random ones.
  const instantiate = (pattern: string, fill: string[]): string => {
    let k = 0;
    const next = (): string => fill[k++ % fill.length] ?? "";
    let out = "";
    for (const c of pattern) {
      if (c === "*") out += next() + next();
      else if (c === "?" || c === "[" || c === "]") out += next().slice(0, 1) || "a";
      else out += c;
    }
    return out;
  };
  const cases = fc.sample(fc.tuple(str(10), str(12), fc.array(str(2), { minLength: 1, maxLength: 6 })), {
    numRuns: 6000,
    seed: 20261126,
  });
  const pairs: [string, string][] = [];
  for (const [pattern, text, fill] of cases) {
    pairs.push([pattern, text]);
    pairs.push([pattern, instantiate(pattern, fill)]);
  }

  it(`matches Python on ${pairs.length} generated (pattern, text) pairs`, () => {
    const oracle = fnmatchcase(pairs);
    const mismatches: string[] = [];
    let positives = 0;
    pairs.forEach(([p, t], i) => {
      const want = oracle[i];
      if (want === true) positives++;
      const got = compileGlob(p).test(t);
      if (got !== want)
        mismatches.push(`${JSON.stringify(p)} vs ${JSON.stringify(t)}: python ${want}, ours ${got}`);
    });
    assert.deepEqual(mismatches.slice(0, 20), []);
    // The generator must produce real matches too, or the comparison proves little.
    assert.ok(positives > pairs.length / 10, `only ${positives} positive cases`);
  });
});

describe("glob: code points beyond the BMP, surrogate halves and ranges between them", () => {
  it("[😀-😂] and other astral ranges compile and match one code point", () => {
    const table: [string, string, boolean][] = [
      ["[😀-😂]", "😁", true],
      ["[😀-😂]", "😃", false],
      ["[!😀-😂]", "😃", true],
      ["a[😀-😂]b", "a😁b", true],
      ["?", "😁", true],
      ["??", "😁", false],
      ["[\uFFFF-😀]", "😀", true], // U+FFFF < U+1F600 by code point (not by UTF-16 unit)
      ["[😀-\uE000]", "😀", false], // reversed by code point: an empty range
      ["[😀-\uE000]", "\uE000", false],
      ["[\uD83D-\uDE00]", "\uD83D", true], // lone surrogate halves as endpoints
      ["[\uDE00-\uD83D]", "\uDE00", false],
    ];
    assert.deepEqual(
      fnmatchcase(table.map(([p, t]) => [p, t] as const)),
      table.map(([, , e]) => e),
      "the oracle agrees with the table",
    );
    for (const [pattern, text, expected] of table) {
      assert.equal(
        compileGlob(pattern).test(text),
        expected,
        `${JSON.stringify(pattern)} on ${JSON.stringify(text)}`,
      );
      assert.equal(checkGlob(pattern), undefined);
    }
  });

  it("never throws, and matches Python, on generated patterns over astral characters and surrogates", () => {
    const char = fc.constantFrom(
      "a",
      "b",
      "-",
      "!",
      "[",
      "]",
      "*",
      "?",
      "😀",
      "😁",
      "😂",
      "\uFFFF",
      "\uE000",
      "\uD83D",
      "\uDE00",
      "\u{10FFFF}",
      "é",
    );
    const str = (max: number) => fc.array(char, { maxLength: max }).map((cs) => cs.join(""));
    const pairs = fc.sample(fc.tuple(str(10), str(6)), { numRuns: 4000, seed: 7 });
    const oracle = fnmatchcase(pairs);
    const mismatches: string[] = [];
    pairs.forEach(([p, t], i) => {
      assert.equal(checkGlob(p), undefined, JSON.stringify(p));
      const got = compileGlob(p).test(t);
      if (got !== oracle[i])
        mismatches.push(`${JSON.stringify(p)} vs ${JSON.stringify(t)}: python ${oracle[i]}, ours ${got}`);
    });
    assert.deepEqual(mismatches.slice(0, 20), []);
  });

  it(`a glob longer than ${MAX_GLOB_LENGTH} code points is a load problem with its position`, () => {
    assert.match(checkGlob("?".repeat(100_000)) ?? "", /at most 1000/);
    const yaml = `rules:\n  - match: {type: "${"?".repeat(MAX_GLOB_LENGTH + 1)}"}\n`;
    assert.throws(
      () => parsePolicy(yaml),
      (e: unknown) =>
        e instanceof PolicyLoadError &&
        e.problems.length === 1 &&
        e.problems[0]!.path === "rules[0].match.type" &&
        e.problems[0]!.line === 2 &&
        e.problems[0]!.column === 19,
    );
  });

  it("an astral-range glob is fine through the whole loader (no 500, no position-less failure)", () => {
    const p = parsePolicy(
      'rules:\n  - match: {type: "[😀-\uE000]x", target: "[😀-😂]"}\n    approval: block\n',
    );
    assert.equal(p.evaluate({ actionType: "\uE000x", target: "😁", params: {} }).matchedRule, "<default>");
    const q = parsePolicy('rules:\n  - name: r\n    match: {target: "[😀-😂]*"}\n');
    assert.equal(q.evaluate({ actionType: "x", target: "😂!", params: {} }).matchedRule, "r");
  });
});
