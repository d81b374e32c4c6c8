// Calico's label selector language, with Calico's semantics
// (libcalico-go lib/selector: tokenizer, parser, ast; see shared/calico-datamodel.md §4).
//
//   sel   := or EOF | ""                      (empty selector == all())
//   or    := and ("||" and)*
//   and   := op ("&&" op)*
//   op    := "!" op | has(key) | all() | global() | "(" or ")"
//          | key ("==" | "!=" | "contains" | "starts with" | "ends with") str
//          | key ("in" | "not in") "{" [str ("," str)*] "}"
//
// `k != v` and `k not in {...}` are true when the label is absent. Keys are [a-zA-Z0-9_./-];
// strings are '...' or "..." with no escapes; only spaces and tabs separate tokens.
//
// A datastore object may carry a selector of any size: `&&` and `||` chains are flat lists, so
// neither parsing nor evaluation recurses per term, and nesting (parentheses, `!`) deeper than
// MAX_DEPTH is refused, so no selector can overflow the stack.

export type Labels = Readonly<Record<string, string>>;

type Node =
  | { op: "all" }
  | { op: "has"; key: string }
  | { op: "not"; node: Node }
  | { op: "and" | "or"; nodes: Node[] }
  | { op: "==" | "!=" | "contains" | "starts with" | "ends with"; key: string; value: string }
  | { op: "in" | "not in"; key: string; values: Set<string> };

/** How deeply parentheses and negations may nest. */
export const MAX_DEPTH = 100;

export class SelectorError extends Error {
  constructor(
    readonly selector: string,
    reason: string,
  ) {
    // A selector can be megabytes long: the message quotes its start only.
    const quoted =
      selector.length > 200
        ? `${JSON.stringify(selector.slice(0, 200))}... (${selector.length} characters)`
        : JSON.stringify(selector);
    super(`invalid selector ${quoted}: ${reason}`);
    this.name = "SelectorError";
  }
}

type Token =
  | { t: "key"; v: string }
  | { t: "str"; v: string }
  | { t: "has"; v: string }
  | { t: "all" | "(" | ")" | "{" | "}" | "," | "&&" | "||" | "!" | "eof" }
  | { t: "cmp"; v: "==" | "!=" | "contains" | "starts with" | "ends with" | "in" | "not in" };

const KEY = /^[a-zA-Z0-9_./-]+/;
const HAS = /^has\s*\(\s*([a-zA-Z0-9_./-]+)\s*\)/;
const ALL = /^(all|global)\s*\(\s*\)/;
/** The operators that may follow a key; keywords need a word boundary. */
const OPERATOR =
  /^(==|!=|contains(?![a-zA-Z0-9_./-])|starts\s*with(?![a-zA-Z0-9_./-])|ends\s*with(?![a-zA-Z0-9_./-])|not\s*in(?![a-zA-Z0-9_./-])|in(?![a-zA-Z0-9_./-]))/;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new SelectorError(text, `${why} at offset ${i}`);
  };
  while (true) {
    while (text[i] === " " || text[i] === "\t") i++;
    if (i >= text.length) break;
    const rest = text.slice(i);
    const c = text[i]!;
    if (out.at(-1)?.t === "key") {
      const m = OPERATOR.exec(rest) ?? fail("expected an operator after the label");
      const word = m[1]!.replace(/\s+/g, "");
      const v =
        ({ startswith: "starts with", endswith: "ends with", notin: "not in" } as Record<string, string>)[
          word
        ] ?? word;
      out.push({ t: "cmp", v: v as Extract<Token, { t: "cmp" }>["v"] });
      i += m[1]!.length;
      continue;
    }
    if (rest.startsWith("&&") || rest.startsWith("||")) {
      out.push({ t: rest.slice(0, 2) as "&&" | "||" });
      i += 2;
    } else if ("!(){},".includes(c)) {
      out.push({ t: c as "!" | "(" | ")" | "{" | "}" | "," });
      i++;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail("unterminated string");
      out.push({ t: "str", v: text.slice(i + 1, end) });
      i = end + 1;
    } else {
      const has = HAS.exec(rest);
      const all = ALL.exec(rest);
      const key = KEY.exec(rest);
      if (has) {
        out.push({ t: "has", v: has[1]! });
        i += has[0].length;
      } else if (all) {
        out.push({ t: "all" }); // global() is always true too
        i += all[0].length;
      } else if (key) {
        out.push({ t: "key", v: key[0] });
        i += key[0].length;
      } else {
        fail(`unexpected character ${JSON.stringify(c)}`);
      }
    }
  }
  out.push({ t: "eof" });
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private take(): Token {
    return this.tokens[this.i++]!;
  }
  private expect<T extends Token["t"]>(t: T): Extract<Token, { t: T }> {
    const tok = this.take();
    if (tok.t !== t) throw new SelectorError(this.text, `expected ${t}, found ${tok.t}`);
    return tok as Extract<Token, { t: T }>;
  }

  selector(): Node {
    if (this.peek().t === "eof") return { op: "all" };
    const node = this.or();
    this.expect("eof");
    return node;
  }

  private or(): Node {
    const nodes = [this.and()];
    while (this.peek().t === "||") {
      this.take();
      nodes.push(this.and());
    }
    return nodes.length === 1 ? nodes[0]! : { op: "or", nodes };
  }

  private and(): Node {
    const nodes = [this.unary()];
    while (this.peek().t === "&&") {
      this.take();
      nodes.push(this.unary());
    }
    return nodes.length === 1 ? nodes[0]! : { op: "and", nodes };
  }

  /** Parses one nested level: a negation's operand or a parenthesised selector. */
  private nested(parse: () => Node): Node {
    if (++this.depth > MAX_DEPTH)
      throw new SelectorError(this.text, `parentheses and negations nested more than ${MAX_DEPTH} deep`);
    const node = parse();
    this.depth--;
    return node;
  }

  private unary(): Node {
    const tok = this.take();
    switch (tok.t) {
      case "!":
        return { op: "not", node: this.nested(() => this.unary()) };
      case "has":
        return { op: "has", key: tok.v };
      case "all":
        return { op: "all" };
      case "(": {
        const node = this.nested(() => this.or());
        this.expect(")");
        return node;
      }
      case "key": {
        const cmp = this.expect("cmp");
        if (cmp.v === "in" || cmp.v === "not in") return { op: cmp.v, key: tok.v, values: this.set() };
        return { op: cmp.v, key: tok.v, value: this.expect("str").v };
      }
      default:
        throw new SelectorError(this.text, `unexpected ${tok.t}`);
    }
  }

  private set(): Set<string> {
    this.expect("{");
    const values = new Set<string>();
    if (this.peek().t === "}") {
      this.take();
      return values;
    }
    for (;;) {
      values.add(this.expect("str").v);
      const tok = this.take();
      if (tok.t === "}") return values;
      if (tok.t !== ",") throw new SelectorError(this.text, `expected , or } in a set, found ${tok.t}`);
    }
  }
}

function evaluate(n: Node, labels: Labels): boolean {
  switch (n.op) {
    case "all":
      return true;
    case "has":
      return Object.hasOwn(labels, n.key);
    case "not":
      return !evaluate(n.node, labels);
    case "and":
      return n.nodes.every((c) => evaluate(c, labels));
    case "or":
      return n.nodes.some((c) => evaluate(c, labels));
  }
  const v = Object.hasOwn(labels, n.key) ? labels[n.key] : undefined;
  // An absent label satisfies only the negative forms.
  if (v === undefined) return n.op === "!=" || n.op === "not in";
  switch (n.op) {
    case "==":
      return v === n.value;
    case "!=":
      return v !== n.value;
    case "contains":
      return v.includes(n.value);
    case "starts with":
      return v.startsWith(n.value);
    case "ends with":
      return v.endsWith(n.value);
    case "in":
      return n.values.has(v);
    case "not in":
      return !n.values.has(v);
  }
}

export interface Selector {
  readonly text: string;
  matches(labels: Labels): boolean;
}

/** Parses a selector; throws SelectorError naming the selector and the problem. */
export function parseSelector(text: string): Selector {
  const root = new Parser(text, tokenize(text)).selector();
  return { text, matches: (labels) => evaluate(root, labels) };
}
