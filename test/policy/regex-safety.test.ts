import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compilePolicyObject, PolicyLoadError, parsePolicy } from "../../src/policy/index.js";
import {
  checkRegex,
  compileRegex,
  compileRegexSearch,
  MAX_DFA_STATES,
  MAX_POLICY_DFA_STATES,
  MAX_REGEX_LENGTH,
  MAX_UNICODE_PROPERTIES,
} from "../../src/policy/regex-safety.js";

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

describe("regex cost is bounded for every form (64 KiB params)", () => {
  const KiB64 = 64 * 1024;
  const fill = (unit: string, tail = ""): string =>
    unit.repeat(Math.ceil(KiB64 / unit.length)).slice(0, KiB64 - tail.length) + tail;
  const texts = [
    fill("a"),
    fill("a", "!"),
    fill("ab"),
    fill("a ", "!"),
    fill("aaaaaaaaa\n"),
    Array.from({ length: KiB64 / 2 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join(""),
    fill("😀a"),
  ];
  // Exponential or quadratic on a backtracking engine; the DFA is linear or the loader refuses.
  const hostile = [
    "(a|a)".repeat(26) + "b", // no quantifier at all: used to run natively, 2.8 s
    "(a|aa)*b",
    "(a+)+b",
    "(x+x+)+y",
    "^(a|a?)+$",
    "(a|b|ab)*c",
    "(.*a){20}",
    ".*.*.*=.*",
    "(\\w+\\s?)*$",
    "[ab]*a[ab]{200}x", // explodes into 2^200 DFA states: rejected
    "[ab]*a[ab]{11}x",
    "(\\p{L}|\\p{Lu}|a)*!",
    "\\b(a|b)+\\b$",
  ];
  for (const source of hostile) {
    it(`${JSON.stringify(source.length > 40 ? `${source.slice(0, 40)}…` : source)} is rejected or linear`, () => {
      const r = compileRegex(source);
      if ("problem" in r) {
        assert.match(r.problem, /needs more than \d+ automaton states; simplify it/);
        return;
      }
      for (const text of texts) {
        r.search(text); // warm up
        // The best of three: a loaded machine may deschedule one run, never an exponential one.
        let elapsed = Number.POSITIVE_INFINITY;
        for (let k = 0; k < 3; k++) {
          const started = performance.now();
          r.search(text);
          elapsed = Math.min(elapsed, performance.now() - started);
        }
        assert.ok(elapsed < 50, `${elapsed.toFixed(1)} ms on ${text.length} code units`);
      }
    });
  }
  it("a DFA-exploding regex is a load problem with its line and column", () => {
    const problems = (() => {
      try {
        parsePolicy("rules:\n  - conditions:\n      param_matches: {q: '[ab]*a[ab]{200}x'}\n");
      } catch (e) {
        if (e instanceof PolicyLoadError) return e.problems;
        throw e;
      }
      return [];
    })();
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.path, "rules[0].conditions.param_matches.q");
    assert.match(
      problems[0]!.message,
      new RegExp(`needs more than ${MAX_DFA_STATES} automaton states; simplify it`),
    );
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [3, 26]);
  });
  it("building the DFA of a rejected regex is itself quick", () => {
    const started = performance.now();
    assert.match(checkRegex("[ab]*a[ab]{200}x") ?? "", /automaton states/);
    assert.match(checkRegex("(.|\\n)*a(.|\\n){40}") ?? "", /automaton states/);
    assert.ok(performance.now() - started < 1000);
  });
  it("literal regexes are plain substring tests with the same answers", () => {
    const cases: [string, string, boolean][] = [
      ["abc", "xxabcxx", true],
      ["^abc", "abcx", true],
      ["^abc", "xabc", false],
      ["abc$", "xabc", true],
      ["^abc$", "abc", true],
      ["^abc$", "abcabc", false],
      ["😀", "a😀", true],
      ["\\uD83D", "😀", false], // a lone surrogate never matches half of a pair
      ["\\uD83D", "\uD83Dx", true],
      ["", "", true],
    ];
    for (const [source, text, expected] of cases) {
      assert.equal(new RegExp(source, "u").test(text), expected, `native ${source}`);
      assert.equal(compileRegexSearch(source)(text), expected, source);
    }
  });
});

describe("the DFA agrees with V8 on classes, escapes, astral code points and surrogates", () => {
  const atom = fc.constantFrom(
    "a",
    "b",
    "-",
    ".",
    "😀",
    "\\u{1F601}",
    "\\uD83D\\uDE00",
    "\\uD83D",
    "\\uDE00",
    "[a-c]",
    "[^a-c]",
    "[😀-😂]",
    "[\\uD83D\\uDE00-\\uD83D\\uDE02]",
    "[\\d\\s]",
    "[^\\w]",
    "[\\-a]",
    "[a-]",
    "[-a]",
    "[--a]",
    "[\\b]",
    "\\x41",
    "\\u0041",
    "\\cJ",
    "\\0",
    "\\t",
    "\\n",
    "\\/",
    "\\*",
    "[\\]]",
    "[^]",
    "[]",
    "\\p{L}",
    "\\P{L}",
    "[\\p{Lu}\\d]",
    "\\p{Script=Greek}",
    "\\S",
    "\\W",
    "\\D",
    "\\b",
    "\\B",
    "^",
    "$",
    "[\\u{10000}-\\u{10FFFF}]",
    "[\\uDC00-\\uDFFF]",
    "\\u{D83D}",
  );
  const regex: fc.Arbitrary<string> = fc.letrec<{ re: string; term: string }>((tie) => ({
    term: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      atom,
      tie("re").map((r) => `(${r})`),
      tie("re").map((r) => `(?:${r})`),
    ),
    re: fc.oneof(
      { depthSize: "small" },
      tie("term"),
      fc.tuple(tie("term"), tie("term")).map(([x, y]) => x + y),
      fc.tuple(tie("term"), tie("term")).map(([x, y]) => `${x}|${y}`),
      fc
        .tuple(tie("term"), fc.constantFrom("*", "+", "?", "{2}", "{0,2}", "{1,}", "*?", "??"))
        .map(([x, q]) => x + q),
    ),
  })).re;
  const text = fc
    .array(
      fc.constantFrom(
        "a",
        "b",
        "-",
        " ",
        "1",
        "A",
        "é",
        "α",
        "😀",
        "😁",
        "😃",
        "\uD83D",
        "\uDE00",
        "\n",
        "\0",
        "\b",
        "]",
        "/",
        "*",
        "\u2028",
        "\u{10FFFF}",
      ),
      { maxLength: 10 },
    )
    .map((p) => p.join(""));
  it("random regexes and texts", () => {
    let compared = 0;
    fc.assert(
      fc.property(regex, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
        let native: RegExp;
        try {
          native = new RegExp(source, "u");
        } catch {
          return;
        }
        const ours = compileRegexSearch(source);
        for (const t of texts) assert.equal(ours(t), native.test(t), `${source} on ${JSON.stringify(t)}`);
        compared++;
      }),
      { numRuns: 3000, seed: 11 },
    );
    assert.ok(compared > 2000, `only ${compared} regexes were valid`);
  });
  it("\\s, \\S and . hold exactly the code points V8 says, over the whole code space", () => {
    for (const source of ["\\s", "\\S", ".", "[^\\s\\w]"]) {
      const ours = compileRegexSearch(`^${source}$`);
      const native = new RegExp(`^${source}$`, "u");
      const wrong: number[] = [];
      for (let cp = 0; cp <= 0x10ffff && wrong.length < 5; cp++) {
        const s = String.fromCodePoint(cp);
        if (ours(s) !== native.test(s)) wrong.push(cp);
      }
      assert.deepEqual(wrong, [], source);
    }
  });
  it("V8 also tries a match between the halves of a surrogate pair (an empty \\B match): so do we", () => {
    for (const [source, text] of [
      ["\\B", "a😀a"],
      ["x?\\B", "b😀b"],
      ["\\B[^a]", "a😀a"],
      ["\\B\\W", "x😀"],
    ] as const) {
      assert.equal(compileRegexSearch(source)(text), new RegExp(source, "u").test(text), source);
    }
  });
});

describe("Unicode property escapes are bounded per policy", () => {
  it(`at most ${MAX_UNICODE_PROPERTIES} distinct ones`, () => {
    const scripts = ["Latin", "Greek", "Cyrillic", "Arabic", "Hebrew", "Han", "Hiragana", "Katakana", "Thai"];
    const escapes = [
      ...scripts.map((s) => `\\p{Script=${s}}`),
      "\\p{Lu}",
      "\\p{Ll}",
      "\\p{N}",
      "\\p{P}",
      "\\p{S}",
      "\\p{Z}",
      "\\p{M}",
      "\\p{C}",
    ];
    assert.ok(escapes.length > MAX_UNICODE_PROPERTIES);
    const params = Object.fromEntries(escapes.map((e, i) => [`p${i}`, `${e}+`]));
    assert.throws(
      () => compilePolicyObject({ rules: [{ conditions: { param_matches: params } }] }),
      (e: unknown) =>
        e instanceof PolicyLoadError &&
        e.problems.length === 1 &&
        /at most 16 distinct Unicode property escapes/.test(e.problems[0]!.message),
    );
    const fine = Object.fromEntries(escapes.slice(0, MAX_UNICODE_PROPERTIES).map((e, i) => [`p${i}`, e]));
    compilePolicyObject({
      rules: [{ conditions: { param_matches: fine } }, { conditions: { param_matches: fine } }],
    });
  });
});

describe("the automata of one policy are bounded together", () => {
  it(`many distinct near-cap regexes: at most ${MAX_POLICY_DFA_STATES} states are built in all, then refused`, () => {
    // Each needs 2,048 states: 16 fit the policy's total, the rest are refused without being built.
    const params = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, `[ab]*a[ab]{10}${i}`]));
    const started = performance.now();
    const problems = (() => {
      try {
        compilePolicyObject({ rules: [{ conditions: { param_matches: params } }] });
      } catch (e) {
        if (e instanceof PolicyLoadError) return e.problems;
        throw e;
      }
      return [];
    })();
    const elapsed = performance.now() - started;
    assert.ok(problems.length >= 20 && problems.length <= 25, `${problems.length} problems`);
    for (const p of problems)
      assert.match(p.message, /the policy's regexes need more than \d+ automaton states .* together/);
    assert.equal(problems[0]!.path, "rules[0].conditions.param_matches.p15");
    assert.ok(elapsed < 5000, `${elapsed.toFixed(0)} ms`);
  });
  it("DFA-exploding regexes stop costing once the policy's total is spent", () => {
    const params = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`p${i}`, `[ab]*a[ab]{200}${i}`]),
    );
    const started = performance.now();
    assert.throws(
      () => compilePolicyObject({ rules: [{ conditions: { param_matches: params } }] }),
      PolicyLoadError,
    );
    const elapsed = performance.now() - started;
    // About 8 regexes are built up to the cap (tens of ms each); the other 192 are refused at once.
    assert.ok(elapsed < 5000, `${elapsed.toFixed(0)} ms`);
  });
});
