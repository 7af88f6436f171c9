// YAML text -> plain value, plus the line and column of every key and value (by path), so that
// validation problems can point at the offending spot.
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { childPath } from "./private/path.js";
import type { PolicyProblem } from "./types.js";

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
  /** YAML syntax errors (duplicate keys, bad indentation, several documents, ...). */
  readonly problems: readonly PolicyProblem[];
}

interface Located {
  key?: SourcePosition;
  value?: SourcePosition;
}

export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const toPos = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problems: PolicyProblem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    const message = e.message
      .split("\n")[0]!
      .replace(/ at line \d+, column \d+:?$/, "")
      .replace(/; please use YAML\.parseAllDocuments\(\)/, " (a policy is one YAML document)");
    problems.push({ path: "", message: `YAML: ${message}`, line: pos.line, column: pos.col });
  }
  const table = new Map<string, Located>();
  const nodeStart = (node: Node | null | undefined): SourcePosition | undefined =>
    node?.range ? toPos(node.range[0]) : undefined;
  const walk = (node: unknown, path: string): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const p = childPath(path, key);
        const valueNode = pair.value as Node | null;
        const entry: Located = {};
        const k = nodeStart(keyNode);
        if (k) entry.key = k;
        const v = nodeStart(valueNode) ?? k;
        if (v) entry.value = v;
        table.set(p, entry);
        walk(valueNode, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = childPath(path, i);
        const at = nodeStart(item as Node);
        if (at) table.set(p, { key: at, value: at });
        walk(item, p);
      });
    } else if (isAlias(node)) {
      // Positions inside an alias are those of the alias itself (parent fallback below).
    }
  };
  const root = doc.contents as Node | null;
  const rootAt = nodeStart(root);
  if (rootAt) table.set("", { key: rootAt, value: rootAt });
  walk(root, "");
  const locate: Locator = (path, part) => {
    let p: string | undefined = path;
    while (p !== undefined) {
      const hit = table.get(p);
      if (hit) return part === "key" ? (hit.key ?? hit.value) : (hit.value ?? hit.key);
      p = parentPath(p);
    }
    return undefined;
  };
  if (problems.length > 0) return { value: undefined, locate, problems };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      value: undefined,
      locate,
      problems: [{ path: "", message: `YAML: ${message}`, line: 1, column: 1 }],
    };
  }
  return { value: value ?? null, locate, problems };
}

function parentPath(path: string): string | undefined {
  if (path === "") return undefined;
  const dot = path.lastIndexOf(".");
  const bracket = path.lastIndexOf("[");
  const cut = Math.max(dot, bracket);
  return cut <= 0 ? "" : path.slice(0, cut);
}
