// The keys file (AEGIS_KEYS_FILE): a YAML list of principals, validated like a policy, every
// problem with its line and column.
//
//   - name: billing-bot          # unique; shown in logs, audit rows and approvals
//     sha256: 9f86d0...          # hex SHA-256 of the key (or `key: <plain key>`, with a warning)
//     role: agent                # agent | approver | admin
//     agent_id: billing-bot      # agents only, optional: the agent ids (a glob) the key may act as
import { createHash } from "node:crypto";
import { compileGlob, formatProblem, type PolicyProblem, readYaml } from "../policy/index.js";
import type { Principal, Role } from "./principal.js";
import { ROLES } from "./principal.js";

const ENTRY_KEYS = ["name", "sha256", "key", "role", "agent_id"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}$/;
const HEX64 = /^[0-9a-f]{64}$/i;
/** Plain keys shorter than this are refused: they could be guessed. */
export const MIN_KEY_LENGTH = 16;
/** Agent ids are identifiers of at most this many characters (as in actions). */
const MAX_PATTERN_LENGTH = 256;

/** One principal of the file with the SHA-256 (hex, lower case) of its key. */
export interface KeyEntry {
  readonly principal: Principal;
  readonly digest: string;
}

export interface KeysFile {
  readonly entries: readonly KeyEntry[];
  /** Non-fatal: plain keys (the file should hold their SHA-256). */
  readonly warnings: readonly PolicyProblem[];
}

export class KeysFileError extends Error {
  override readonly name = "KeysFileError";
  constructor(
    readonly problems: readonly PolicyProblem[],
    sourceName?: string,
  ) {
    const lead = sourceName ? `${sourceName}: ` : "";
    super(
      `invalid keys file (${problems.length === 1 ? "1 problem" : `${problems.length} problems`}):\n` +
        problems.map((p) => `  ${lead}${formatProblem(p)}`).join("\n"),
    );
  }
}

export function sha256Hex(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function quoted(v: unknown): string {
  return typeof v === "string"
    ? JSON.stringify(v)
    : v === null
      ? "null"
      : Array.isArray(v)
        ? "a list"
        : typeof v;
}

/** A plain agent id (no glob character): a request without agent_id acts as it. */
function plainId(pattern: string): string | undefined {
  return /[*?[]/.test(pattern) ? undefined : pattern;
}

/** Parses and validates the keys file; throws KeysFileError listing every problem. */
export function parseKeysFile(text: string, sourceName?: string): KeysFile {
  const source = readYaml(text);
  if (source.problems.length > 0) throw new KeysFileError(source.problems, sourceName);
  const problems: PolicyProblem[] = [];
  const warnings: PolicyProblem[] = [];
  const at = (path: string, message: string, part: "key" | "value" = "value"): PolicyProblem => {
    const pos = source.locate(path, part);
    return { path, message, line: pos?.line, column: pos?.column };
  };
  const doc = source.value;
  if (doc === null) return { entries: [], warnings };
  if (!Array.isArray(doc)) {
    throw new KeysFileError(
      [at("", `the keys file must be a list of principals, got ${quoted(doc)}`)],
      sourceName,
    );
  }
  const entries: KeyEntry[] = [];
  const names = new Map<string, string>();
  const digests = new Map<string, string>();
  doc.forEach((item: unknown, i) => {
    const p = `[${i}]`;
    if (!isMapping(item)) {
      problems.push(
        at(p, `each principal must be a mapping with name, sha256 (or key) and role, got ${quoted(item)}`),
      );
      return;
    }
    for (const k of Object.keys(item)) {
      if (!ENTRY_KEYS.includes(k)) {
        problems.push(
          at(`${p}.${k}`, `unknown key ${JSON.stringify(k)} (expected ${ENTRY_KEYS.join(", ")})`, "key"),
        );
      }
    }
    const before = problems.length;
    const name = item["name"];
    if (typeof name !== "string" || !NAME.test(name)) {
      problems.push(
        at(
          `${p}.name`,
          name === undefined
            ? "name is required"
            : `name must be 1-128 letters, digits and _ . @ : + - (starting with a letter or digit), got ${quoted(name)}`,
        ),
      );
    } else if (names.has(name)) {
      problems.push(at(`${p}.name`, `duplicate name ${JSON.stringify(name)} (also ${names.get(name)})`));
    } else names.set(name, p);
    const role = item["role"];
    if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
      problems.push(
        at(
          `${p}.role`,
          role === undefined
            ? "role is required"
            : `role must be agent, approver or admin, got ${quoted(role)}`,
        ),
      );
    }
    let digest: string | undefined;
    const hashed = item["sha256"];
    const plain = item["key"];
    if (hashed !== undefined && plain !== undefined) {
      problems.push(at(`${p}.key`, "give the key as sha256 or as key, not both", "key"));
    } else if (hashed !== undefined) {
      if (typeof hashed !== "string" || !HEX64.test(hashed)) {
        problems.push(at(`${p}.sha256`, "sha256 must be 64 hexadecimal characters (the SHA-256 of the key)"));
      } else digest = hashed.toLowerCase();
    } else if (plain !== undefined) {
      if (typeof plain !== "string" || plain.length < MIN_KEY_LENGTH || /\s/.test(plain)) {
        // The key itself is never echoed.
        problems.push(
          at(`${p}.key`, `key must be a string of at least ${MIN_KEY_LENGTH} characters without spaces`),
        );
      } else {
        digest = sha256Hex(plain);
        warnings.push(
          at(
            `${p}.key`,
            "a plain key in the keys file: store its SHA-256 instead (aegis keygen prints both)",
            "key",
          ),
        );
      }
    } else {
      problems.push(at(p, "sha256 (or key) is required", "key"));
    }
    if (digest !== undefined) {
      const other = digests.get(digest);
      if (other !== undefined)
        problems.push(at(`${p}.${hashed !== undefined ? "sha256" : "key"}`, `the same key as ${other}`));
    }
    const pattern = item["agent_id"];
    let binding: Principal["agentBinding"];
    if (pattern !== undefined) {
      if (role !== "agent") {
        problems.push(at(`${p}.agent_id`, "agent_id binds agent keys only (role: agent)", "key"));
      } else if (typeof pattern !== "string" || pattern === "" || pattern.length > MAX_PATTERN_LENGTH) {
        problems.push(
          at(
            `${p}.agent_id`,
            `agent_id must be a glob of 1 to ${MAX_PATTERN_LENGTH} characters, got ${quoted(pattern)}`,
          ),
        );
      } else {
        try {
          binding = { pattern, glob: compileGlob(pattern), plain: plainId(pattern) };
        } catch (err) {
          problems.push(
            at(
              `${p}.agent_id`,
              `agent_id is not a valid glob: ${err instanceof Error ? err.message : String(err)}`,
            ),
          );
        }
      }
    }
    if (problems.length > before || typeof name !== "string" || digest === undefined) return;
    digests.set(digest, `${p} (${name})`);
    entries.push({ principal: { name, role: role as Role, agentBinding: binding }, digest });
  });
  if (problems.length > 0) throw new KeysFileError(problems, sourceName);
  return { entries, warnings };
}
