// What a policy's YAML may not use, checked on the token tree before the yaml library builds a
// document from it: the library composes recursively (a 100,000-deep flow sequence exhausts the
// stack inside it), and its tags turn data into things that are not JSON (YAML 1.1's !!set, !!omap,
// !!pairs, !!timestamp, !!binary: a Set, a Map, a Date, a Buffer) or into nothing at all (`!foo`).
import type { CST } from "yaml";
import { MAX_POLICY_DEPTH } from "./plain-data.js";
import { quoteShort } from "./private/quote.js";

/** The tags that yield plain JSON data (core schema); every other tag is refused. */
const PLAIN_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"]);
const COLLECTIONS = new Set(["block-map", "block-seq", "flow-collection"]);
const YAML_TAG_PREFIX = "tag:yaml.org,2002:";

function isPlainTag(source: string): boolean {
  if (source.startsWith("!!")) return PLAIN_TAGS.has(source.slice(2));
  const verbatim = /^!<(.*)>$/.exec(source);
  return (
    verbatim?.[1]?.startsWith(YAML_TAG_PREFIX) === true &&
    PLAIN_TAGS.has(verbatim[1].slice(YAML_TAG_PREFIX.length))
  );
}

/** Where CST tokens keep their children (collection items, key/separator/value, props, ends). */
const CHILD_FIELDS = ["start", "key", "sep", "value", "end", "items", "props"] as const;

/**
 * Reports (by source offset) collections nested deeper than MAX_POLICY_DEPTH, tags other than the
 * plain-data ones, and %TAG directives (which could make `!!str` mean anything). Iterative: the
 * token tree is as deep as the input.
 */
export function checkTokens(
  tokens: readonly CST.Token[],
  report: (offset: number, message: string) => void,
): void {
  const nodes: unknown[] = [...tokens].reverse();
  const depths: number[] = nodes.map(() => 0);
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (Array.isArray(node)) {
      for (let k = node.length - 1; k >= 0; k--) {
        nodes.push(node[k]);
        depths.push(depth);
      }
      continue;
    }
    const token = node as Record<string, unknown>;
    const type = token["type"];
    let inner = depth;
    if (typeof type === "string" && COLLECTIONS.has(type)) {
      inner = depth + 1;
      if (inner > MAX_POLICY_DEPTH) {
        report(token["offset"] as number, `the policy is nested more than ${MAX_POLICY_DEPTH} levels deep`);
        continue;
      }
    } else if (type === "tag" && !isPlainTag(String(token["source"]))) {
      report(
        token["offset"] as number,
        `tag ${quoteShort(String(token["source"]))} is not supported: a policy is plain data (mappings, lists, strings, numbers, booleans, null)`,
      );
    } else if (type === "directive" && String(token["source"]).startsWith("%TAG")) {
      report(token["offset"] as number, "%TAG directives are not supported");
    }
    for (let k = CHILD_FIELDS.length - 1; k >= 0; k--) {
      const child = token[CHILD_FIELDS[k]!];
      if (typeof child === "object" && child !== null) {
        nodes.push(child);
        depths.push(inner);
      }
    }
  }
}
