// Every key the server accepts and the principal each one names. AEGIS_API_KEY and
// AEGIS_ADMIN_KEY keep their meaning from before principals existed (DESIGN §3.1): principals
// `api` and `admin`; without an admin key the API key is the admin key; with only an admin key,
// what needs an agent key stays open. The keys file adds named principals.
//
// A presented key is hashed (SHA-256) and looked up by its digest, then compared with
// timingSafeEqual: timing can tell at most something about a digest, never about a key. Keys never
// appear in logs or errors.
import { timingSafeEqual } from "node:crypto";
import { AegisError } from "../errors.js";
import { type KeyEntry, sha256Hex } from "./keys-file.js";
import { type Access, ANONYMOUS, allows, type Principal } from "./principal.js";

export interface EnvKeys {
  readonly apiKey?: string | undefined;
  readonly adminKey?: string | undefined;
}

/** Reads a header by lower-case name from either a Fetch `Headers` or Node's header object. */
export type HeaderGetter = (name: string) => string | undefined;

export class KeyRing {
  private readonly byDigest = new Map<string, { digest: Buffer; principal: Principal }>();
  /** No keys at all: development mode, everything open. */
  readonly open: boolean;
  /** Only AEGIS_ADMIN_KEY: what needs an agent key needs none. */
  private readonly agentAccessOpen: boolean;
  readonly size: number;

  constructor(env: EnvKeys, file: readonly KeyEntry[] = []) {
    const entries: KeyEntry[] = [];
    if (env.apiKey !== undefined) {
      entries.push({
        principal: { name: "api", role: env.adminKey === undefined ? "admin" : "agent" },
        digest: sha256Hex(env.apiKey),
      });
    }
    if (env.adminKey !== undefined)
      entries.push({ principal: { name: "admin", role: "admin" }, digest: sha256Hex(env.adminKey) });
    for (const e of file) {
      if (entries.some((x) => x.principal.name === e.principal.name)) {
        throw new AegisError(
          "invalid_argument",
          `keys file: the name ${JSON.stringify(e.principal.name)} is taken by ${e.principal.name === "api" ? "AEGIS_API_KEY" : "AEGIS_ADMIN_KEY"}`,
        );
      }
      if (entries.some((x) => x.digest === e.digest)) {
        throw new AegisError(
          "invalid_argument",
          `keys file: ${e.principal.name} has the same key as AEGIS_API_KEY or AEGIS_ADMIN_KEY`,
        );
      }
      entries.push(e);
    }
    for (const e of entries)
      this.byDigest.set(e.digest, { digest: Buffer.from(e.digest, "hex"), principal: e.principal });
    this.size = entries.length;
    this.open = entries.length === 0;
    this.agentAccessOpen = env.apiKey === undefined && env.adminKey !== undefined && file.length === 0;
  }

  /** The principal of a presented key, or undefined when no key matches. */
  principalOf(key: string): Principal | undefined {
    const digest = sha256Hex(key);
    const hit = this.byDigest.get(digest);
    if (hit === undefined) return undefined;
    return timingSafeEqual(Buffer.from(digest, "hex"), hit.digest) ? hit.principal : undefined;
  }

  /**
   * The principal making a call that needs `access`. Throws `unauthenticated` (missing or unknown
   * key) or `permission_denied` (a key whose role is too low).
   */
  authenticate(access: Access, header: HeaderGetter): Principal {
    if (this.open) return ANONYMOUS;
    const presented = presentedKey(header);
    if (presented === undefined) {
      if (access === "open" || (access === "agent" && this.agentAccessOpen)) return ANONYMOUS_AGENT;
      throw new AegisError("unauthenticated", "Missing API key");
    }
    const principal = this.principalOf(presented);
    if (principal === undefined) {
      if (access === "open") return ANONYMOUS_AGENT;
      throw new AegisError("unauthenticated", "Invalid API key");
    }
    if (!allows(principal.role, access)) {
      throw new AegisError(
        "permission_denied",
        access === "admin" ? "This operation needs the admin key" : `This operation needs the ${access} role`,
      );
    }
    return principal;
  }
}

/** Who calls an open RPC without a key, or an agent RPC when only an admin key exists. */
const ANONYMOUS_AGENT: Principal = Object.freeze({ name: "anonymous", role: "agent" });

export { ANONYMOUS };

/** `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
export function presentedKey(header: HeaderGetter): string | undefined {
  const x = header("x-api-key");
  if (x !== undefined && x !== "") return x.trim();
  const auth = header("authorization");
  if (auth !== undefined) {
    const m = /^\s*bearer\s+(.+?)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}
