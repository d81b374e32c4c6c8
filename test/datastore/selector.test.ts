// The Calico selector language. The first table is Calico's own
// (projectcalico/calico libcalico-go/lib/selector/parser/parser_test.go: selectorTests,
// badSelectors), so our semantics are Calico's.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSelector, SelectorError } from "../../src/datastore/selector.js";

type L = Record<string, string>;
const CALICO_SELECTOR_TESTS: [string, L[], L[]][] = [
  [`a == "b"`, [{ a: "b" }, { a: "b", c: "d" }], [{}, { a: "c" }, { c: "d" }]],
  [
    `a == "b" && c == "d"`,
    [{ a: "b", c: "d" }],
    [{}, { a: "b", c: "e" }, { a: "c", c: "d" }, { c: "d" }, { a: "b" }],
  ],
  [
    `a == "b" || c == "d"`,
    [{ a: "b", c: "d" }, { a: "b" }, { c: "d" }],
    [{}, { a: "e", c: "e" }, { c: "e" }, { a: "e" }],
  ],
  [`a in {"'", '"', "c"}`, [{ a: "c" }, { a: `"` }, { a: `'` }], [{}, { a: "e" }]],
  [`a not in {"'", '"', "c"}`, [{}, { a: "e" }], [{ a: "c" }, { a: `"` }, { a: `'` }]],
  [`a == 'a'`, [{ a: "a" }], []],
  [`a == "a"`, [{ a: "a" }], []],
  [`a != "b"`, [{ a: "a" }], []],
  [`a != "a"`, [{}], []],
  [`a contains "a"`, [{ a: "a" }, { a: "bab" }, { a: "aaa", b: "c" }], [{}, { a: "b" }, { b: "aaa" }]],
  [
    `a starts with "a"`,
    [{ a: "a" }, { a: "abb" }, { a: "aaa", b: "c" }],
    [{}, { a: "b" }, { a: "baa" }, { b: "aaa" }],
  ],
  [
    `a ends with "a"`,
    [{ a: "a" }, { a: "bba" }, { a: "aaa", b: "c" }],
    [{}, { a: "b" }, { a: "aab" }, { b: "aaa" }],
  ],
  [`a in {"a"}`, [{ a: "a" }], []],
  [`!a in {"a"}`, [{ a: "b" }], []],
  [`a in {"a", "b"}`, [{ a: "a" }], []],
  [`a in {"a", "b"}`, [{ a: "b" }], []],
  [`a not in {"d", "e"}`, [{ a: "a" }], []],
  [`has(a)`, [{ a: "b" }], []],
  [`!has(a)`, [{ b: "b" }], []],
  [``, [{}], []],
  [` `, [{}], []],
  [``, [{ a: "b" }], []],
  [`all()`, [{}], []],
  [` all()`, [{}], []],
  [` all()`, [{ a: "b" }], []],
  [`global()`, [{}], []],
  [` global()`, [{}], []],
  [` global()`, [{ a: "b" }], []],
  [`a == 'a'`, [], [{ a: "b" }]],
  [`a == 'a'`, [], [{}]],
  [`a != "a"`, [], [{ a: "a" }]],
  [`a != 'a'`, [], [{ a: "a" }]],
  [`a in {"a"}`, [], [{ a: "b" }]],
  [`a not in {"a"}`, [], [{ a: "a" }]],
  [`a in {"a", "b"}`, [], [{ a: "c" }]],
  [`has(b)`, [], [{ a: "b" }]],
  [`!!has(b)`, [], [{ a: "b" }]],
  [`! has(a)`, [], [{ a: "b" }]],
  [`!has(a)`, [], [{ a: "b" }]],
  [`!!! has(a)`, [], [{ a: "b" }]],
  [`!!!has(a)`, [], [{ a: "b" }]],
  [`!! ! has(a)`, [], [{ a: "b" }]],
  [`! !!has(a)`, [], [{ a: "b" }]],
  [`a == 'a1' && b == 'b1'`, [{ a: "a1", b: "b1" }], []],
  [`a == 'a1' && b != 'b1'`, [], [{ a: "a1", b: "b1" }]],
  [`a != 'a1' && b == 'b1'`, [], [{ a: "a1", b: "b1" }]],
  [`a != 'a1' && b != 'b1'`, [], [{ a: "a1", b: "b1" }]],
  [`a != 'a1' && !b == 'b1'`, [], [{ a: "a1", b: "b1" }]],
  [`!a == 'a1' && b == 'b1'`, [], [{ a: "a1", b: "b1" }]],
  [`has(a) && !has(b)`, [{ a: "a" }], []],
  [`!has(b) && has(a)`, [{ a: "a" }], []],
  [`!(!has(a) || has(b))`, [{ a: "a" }], []],
  [`!(has(b) || !has(a))`, [{ a: "a" }], []],
  [`a == 'a1' || b == 'b1'`, [{ a: "a1", b: "b1" }], []],
  [`a == 'a1' || b != 'b1'`, [{ a: "a1", b: "b1" }], []],
  [`a != 'a1' || b == 'b1'`, [{ a: "a1", b: "b1" }], []],
  [`a != 'a1' || b != 'b1'`, [], [{ a: "a1", b: "b1" }]],
  [`! a == 'a1' || ! b == 'b1'`, [], [{ a: "a1", b: "b1" }]],
];

const CALICO_BAD_SELECTORS = [
  "b == b",
  "b contains b",
  "b starts with b",
  "b ends with b",
  "'b1' == b",
  "b",
  "a b",
  "!",
  `foo == "bar" &`,
  `foo == "bar" |`,
  `foo != ||`,
  `foo in {"", ||`,
  `foo in ""`,
  `"FOO`,
  `"FOO'`,
  `'FOO`,
  `(`,
  `(a == "foo"`,
  `)`,
  `()`,
  `%`,
  `a == "b" && %`,
  `a == "b" || %`,
  `a `,
  `has(foo) &&`,
];

describe("Calico's selector examples", () => {
  for (const [sel, yes, no] of CALICO_SELECTOR_TESTS) {
    it(`${JSON.stringify(sel)} matches ${JSON.stringify(yes)} and not ${JSON.stringify(no)}`, () => {
      const s = parseSelector(sel);
      for (const labels of yes) expect(s.matches(labels), JSON.stringify(labels)).toBe(true);
      for (const labels of no) expect(s.matches(labels), JSON.stringify(labels)).toBe(false);
    });
  }

  for (const sel of CALICO_BAD_SELECTORS) {
    it(`rejects ${JSON.stringify(sel)} with an error naming it`, () => {
      expect(() => parseSelector(sel)).toThrow(SelectorError);
      expect(() => parseSelector(sel)).toThrow(JSON.stringify(sel));
    });
  }
});

describe("selectors in Calico's route reflector recipes", () => {
  it("the one-word spellings startswith, endswith and notin are accepted", () => {
    expect(parseSelector(`a startswith "x"`).matches({ a: "xy" })).toBe(true);
    expect(parseSelector(`a endswith "y"`).matches({ a: "xy" })).toBe(true);
    expect(parseSelector(`a notin {"x"}`).matches({})).toBe(true);
  });

  it("route-reflector == 'true' and its negation split nodes into reflectors and clients", () => {
    const rr = parseSelector("route-reflector == 'true'");
    const clients = parseSelector("!has(route-reflector)");
    expect([
      rr.matches({ "route-reflector": "true" }),
      clients.matches({ "route-reflector": "true" }),
    ]).toEqual([true, false]);
    expect([
      rr.matches({ "kubernetes.io/hostname": "n1" }),
      clients.matches({ "kubernetes.io/hostname": "n1" }),
    ]).toEqual([false, true]);
  });

  it("precedence: ! over && over ||, with parentheses", () => {
    const s = parseSelector(`has(a) || has(b) && !has(c)`);
    expect(s.matches({ a: "", c: "" })).toBe(true);
    expect(s.matches({ b: "", c: "" })).toBe(false);
    expect(parseSelector(`(has(a) || has(b)) && !has(c)`).matches({ a: "", c: "" })).toBe(false);
  });
});

// Issue 15, finding 2: a selector of pathological size must neither overflow the stack nor take
// long; one nested too deeply is a SelectorError naming the selector.
describe("selectors of pathological size", () => {
  const terms = (n: number, join: string) => Array.from({ length: n }, (_, i) => `has(k${i})`).join(join);
  const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, ""]));

  it("20,000 terms joined by && or || parse and evaluate", () => {
    const and = parseSelector(terms(20_000, " && "));
    expect(and.matches(labels(20_000))).toBe(true);
    expect(and.matches(labels(19_999))).toBe(false);
    const or = parseSelector(terms(20_000, " || "));
    expect(or.matches({ k19999: "" })).toBe(true);
    expect(or.matches({})).toBe(false);
  });

  it("precedence holds in long chains: a || b && c || d", () => {
    const s = parseSelector(`${terms(1000, " && ")} || has(x) && !has(y) || has(z)`);
    expect(s.matches({ x: "" })).toBe(true);
    expect(s.matches({ x: "", y: "" })).toBe(false);
    expect(s.matches({ z: "" })).toBe(true);
    expect(s.matches(labels(1000))).toBe(true);
  });

  it.each([
    ["20,000 nested parentheses", `${"(".repeat(20_000)}has(a)${")".repeat(20_000)}`],
    ["20,000 negations", `${"!".repeat(20_000)}has(a)`],
  ])("%s: a SelectorError, not a stack overflow", (_, text) => {
    expect(() => parseSelector(text)).toThrow(SelectorError);
    expect(() => parseSelector(text)).toThrow(/nested more than 100 deep/);
  });

  it("100 nested parentheses and negations are fine", () => {
    expect(parseSelector(`${"(".repeat(100)}has(a)${")".repeat(100)}`).matches({ a: "" })).toBe(true);
    expect(parseSelector(`${"!".repeat(100)}has(a)`).matches({ a: "" })).toBe(true);
  });
});

it("an error about a long selector quotes only its start", () => {
  const text = `${"(".repeat(20_000)}has(a)${")".repeat(20_000)}`;
  expect(() => parseSelector(text)).toThrow(/^invalid selector "\(+"\.\.\. \(40006 characters\)/);
  try {
    parseSelector(text);
  } catch (e) {
    expect((e as Error).message.length).toBeLessThan(400);
  }
});

// The class, generated: selectors of any size and depth, well-formed or cut anywhere, either
// parse or throw a SelectorError, and a parsed one evaluates without throwing.
it("generated selectors of pathological size and depth: a Selector or a SelectorError, never a crash", () => {
  const leaf = fc.constantFrom("has(a)", "a == 'x'", "b in {'1','2'}", "all()", 'c != "y"');
  const tree: fc.Arbitrary<string> = fc.letrec<{ s: string }>((tie) => ({
    s: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      tie("s").map((s) => `!${s}`),
      tie("s").map((s) => `(${s})`),
      fc.array(tie("s"), { minLength: 2, maxLength: 4 }).map((xs) => xs.join(" && ")),
      fc.array(tie("s"), { minLength: 2, maxLength: 4 }).map((xs) => xs.join(" || ")),
    ),
  })).s;
  const huge = fc.tuple(leaf, fc.integer({ min: 1, max: 30_000 }), fc.constantFrom("(", "!", " && ", " || "));
  const selector = fc.oneof(
    tree,
    huge.map(([l, n, op]) =>
      op === "("
        ? `${"(".repeat(n)}${l}${")".repeat(n)}`
        : op === "!"
          ? `${"!".repeat(n)}${l}`
          : Array(n).fill(l).join(op),
    ),
  );
  fc.assert(
    fc.property(selector, fc.nat(), (text, cut) => {
      for (const t of [text, text.slice(0, cut % (text.length + 1))]) {
        let sel: ReturnType<typeof parseSelector> | undefined;
        try {
          sel = parseSelector(t);
        } catch (e) {
          expect(e).toBeInstanceOf(SelectorError);
          continue;
        }
        sel.matches({ a: "x", b: "1" });
        sel.matches({});
      }
    }),
    { numRuns: 300 },
  );
});
