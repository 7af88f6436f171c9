// YAML text -> plain value, plus the line and column of every key and value (by path), so that
// validation problems can point at the offending spot. The text is hostile input: it is checked as
// tokens before the yaml library composes it (yaml-guard.ts), its aliases are bounded before they
// are resolved, and the options below avoid the library's quadratic paths.
import {
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  Parser,
} from "yaml";
import { MAX_POLICY_DEPTH } from "./plain-data.js";
import { childPath, parentPath } from "./private/path.js";
import { escapeUnsafe, quoteShort } from "./private/quote.js";
import type { PolicyProblem } from "./types.js";
import { checkTokens } from "./yaml-guard.js";

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** Finds the source position of a path's key or value; falls back to the nearest located parent. */
export type Locator = (path: string, part: "key" | "value") => SourcePosition | undefined;

export interface YamlSource {
  /** The document as plain data (`null` for an empty document). Undefined when `problems` is not empty. */
  readonly value: unknown;
  readonly locate: Locator;
  /** YAML problems (syntax, duplicate keys, several documents, unsupported tags, nesting, ...). */
  readonly problems: readonly PolicyProblem[];
}

/**
 * Each alias costs the library a scan of every earlier anchor and alias when it resolves it, so
 * their number is bounded (policies use a handful).
 */
export const MAX_YAML_ALIASES = 100;
/** Bounds how far aliases may multiply the data (yaml's "billion laughs" guard). */
const MAX_ALIAS_COUNT = 100;

const COMPOSE_OPTIONS = {
  prettyErrors: false,
  strict: true,
  // The library compares every new key with every earlier one (quadratic: a 470 KB mapping took
  // 14 s); keys are checked for uniqueness below with a Set instead, as the strings they become.
  uniqueKeys: false,
  // The core schema's optional YAML 1.1 tags (!!set, !!omap, !!pairs, !!timestamp, !!binary) stay
  // unresolved; yaml-guard refuses them anyway, with their position.
  resolveKnownTags: false,
  // Warnings would otherwise go to process.emitWarning: this module does no I/O.
  logLevel: "error",
} as const;

interface Located {
  key?: SourcePosition;
  value?: SourcePosition;
}

/** A scalar key as the object key yaml's toJS makes of it. */
function keyString(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const toPos = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problems: PolicyProblem[] = [];
  const report = (offset: number, message: string): void => {
    const { line, column } = toPos(offset);
    problems.push({ path: "", message: `YAML: ${escapeUnsafe(message)}`, line, column });
  };
  const table = new Map<string, Located>();
  const locate: Locator = (path, part) => {
    let p: string | undefined = path;
    while (p !== undefined) {
      const hit = table.get(p);
      if (hit) return part === "key" ? (hit.key ?? hit.value) : (hit.value ?? hit.key);
      p = parentPath(p);
    }
    return undefined;
  };
  const failed = (): YamlSource => ({ value: undefined, locate, problems });

  const tokens: CST.Token[] = [...new Parser(lineCounter.addNewLine).parse(text)];
  checkTokens(tokens, report);
  if (problems.length > 0) return failed();

  const doc = composeOne(tokens, text.length, report);
  if (problems.length > 0 || doc === undefined) return failed();

  const root = doc.contents as Node | null;
  const rootAt = root?.range ? toPos(root.range[0]) : undefined;
  if (rootAt) table.set("", { key: rootAt, value: rootAt });
  walkDocument(root, toPos, table, report);
  if (problems.length > 0) return failed();

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    problems.push({ path: "", message: `YAML: ${escapeUnsafe(message)}`, line: 1, column: 1 });
    return failed();
  }
  return { value: value ?? null, locate, problems };
}

/** The document, with the library's errors and warnings reported; one document only. */
function composeOne(
  tokens: readonly CST.Token[],
  length: number,
  report: (offset: number, message: string) => void,
): Document.Parsed | undefined {
  const composer = new Composer(COMPOSE_OPTIONS);
  let doc: Document.Parsed | undefined;
  for (const d of composer.compose(tokens, true, length)) {
    if (doc === undefined) doc = d;
    else {
      report(d.range[0], "Source contains multiple documents (a policy is one YAML document)");
      break;
    }
  }
  if (doc === undefined) return undefined;
  for (const e of [...doc.errors, ...doc.warnings]) {
    report(e.pos[0], e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""));
  }
  return doc;
}

/**
 * Records the position of every key and value, and reports what the library would accept but a
 * policy cannot: non-scalar keys, keys that are equal as strings, scalars that are not JSON
 * (YAML 1.1 timestamps), too many aliases, aliases without an anchor or inside their own anchor,
 * and aliases that nest data deeper than MAX_POLICY_DEPTH. Recursion is bounded: yaml-guard has
 * already checked the source nesting.
 */
function walkDocument(
  root: Node | null,
  toPos: (offset: number) => SourcePosition,
  table: Map<string, Located>,
  report: (offset: number, message: string) => void,
): void {
  const nodeStart = (node: unknown): SourcePosition | undefined => {
    const range = (node as Node | null | undefined)?.range;
    return range ? toPos(range[0]) : undefined;
  };
  const offsetOf = (node: unknown): number => (node as Node | null | undefined)?.range?.[0] ?? 0;
  const anchors = new Map<string, Node>();
  /** Nesting height of a finished node (aliases count as their target); -1 while in progress. */
  const heights = new Map<Node, number>();
  let aliases = 0;
  let tooDeep = false;

  const walk = (node: unknown, path: string, depth: number, located: boolean): number => {
    if (node === null || node === undefined) return 0;
    if (isAlias(node)) {
      if (++aliases === MAX_YAML_ALIASES + 1) report(offsetOf(node), `more than ${MAX_YAML_ALIASES} aliases`);
      const target = anchors.get(node.source);
      const h = target === undefined ? undefined : heights.get(target);
      if (target === undefined)
        report(offsetOf(node), `alias ${quoteShort(`*${node.source}`)} has no anchor before it`);
      else if (h === -1)
        report(offsetOf(node), `alias ${quoteShort(`*${node.source}`)} is inside its own anchor`);
      else if (h !== undefined && depth + h > MAX_POLICY_DEPTH && !tooDeep) {
        tooDeep = true;
        report(
          offsetOf(node),
          `alias ${quoteShort(`*${node.source}`)} nests the policy more than ${MAX_POLICY_DEPTH} levels deep`,
        );
      }
      return h !== undefined && h > 0 ? h : 0;
    }
    const anchor = (node as Node).anchor;
    if (anchor !== undefined) {
      anchors.set(anchor, node as Node);
      heights.set(node as Node, -1);
    }
    let height = 0;
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const keyNode = pair.key as unknown;
        const valueNode = pair.value as unknown;
        if (isScalar(keyNode) && typeof keyNode.value === "symbol") {
          height = Math.max(height, 1 + walk(valueNode, path, depth + 1, false)); // a YAML 1.1 merge (<<)
          continue;
        }
        if (keyNode !== null && !isScalar(keyNode)) {
          report(
            offsetOf(keyNode),
            "a mapping key must be a string (or a number, boolean or null), not a list, mapping or alias",
          );
          continue;
        }
        const key = keyString(isScalar(keyNode) ? keyNode.value : null);
        if (seen.has(key))
          report(
            offsetOf(keyNode ?? valueNode),
            `Map keys must be unique (${quoteShort(key)} appears twice)`,
          );
        seen.add(key);
        if (isScalar(keyNode) && typeof keyNode.value === "object" && keyNode.value !== null) {
          report(offsetOf(keyNode), "a timestamp or binary key is not plain data; quote it");
        }
        const p = childPath(path, key);
        if (located) {
          const entry: Located = {};
          const k = nodeStart(keyNode);
          if (k) entry.key = k;
          const v = nodeStart(valueNode) ?? k;
          if (v) entry.value = v;
          table.set(p, entry);
        }
        height = Math.max(height, 1 + walk(valueNode, p, depth + 1, located));
      }
      height = Math.max(height, 1);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = childPath(path, i);
        const at = nodeStart(item);
        if (located && at) table.set(p, { key: at, value: at });
        height = Math.max(height, 1 + walk(item, p, depth + 1, located));
      });
      height = Math.max(height, 1);
    } else if (isScalar(node)) {
      const v = node.value;
      if (v instanceof Date)
        report(offsetOf(node), "a timestamp is not plain data; quote it to keep it a string");
      else if (typeof v === "object" && v !== null) report(offsetOf(node), "binary data is not plain data");
      else if (typeof v === "bigint") report(offsetOf(node), "an integer too large for a JSON number");
    }
    if (anchor !== undefined) heights.set(node as Node, height);
    return height;
  };
  walk(root, "", 0, true);
}
