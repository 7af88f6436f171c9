// Who is asking: principals (named keys with roles and agent bindings), the keys file, the key
// ring that authenticates a presented key, and the agent-id binding rule.
export { effectiveAgentId } from "./agent-binding.js";
export { type EnvKeys, type HeaderGetter, KeyRing, presentedKey } from "./key-ring.js";
export {
  type KeyEntry,
  type KeysFile,
  KeysFileError,
  MIN_KEY_LENGTH,
  parseKeysFile,
  sha256Hex,
} from "./keys-file.js";
export { KeysSource } from "./keys-source.js";
export {
  type Access,
  type AgentBinding,
  ANONYMOUS,
  allows,
  type Principal,
  ROLES,
  type Role,
} from "./principal.js";
