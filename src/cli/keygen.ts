// `aegis keygen --name N --role R [--agent-id GLOB]`: a new random key and its keys-file entry.
// The key is printed once; the file stores only its SHA-256.
import { randomBytes } from "node:crypto";
import { ConfigError } from "../config.js";
import { parseKeysFile, ROLES, sha256Hex } from "../identity/index.js";
import { parseCommandLine } from "./args.js";

const USAGE = "Usage: aegis keygen --name NAME --role agent|approver|admin [--agent-id GLOB]\n";

export async function run(args: string[]): Promise<number> {
  try {
    const { values } = parseCommandLine<{ name?: string; role?: string; "agent-id"?: string }>(
      args,
      {
        name: { type: "string", valueName: "name" },
        role: { type: "string", valueName: "role" },
        "agent-id": { type: "string", valueName: "glob" },
      },
      { min: 0, max: 0, what: "no arguments" },
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (values.name === undefined) throw new ConfigError("--name is required");
    if (values.role === undefined || !(ROLES as readonly string[]).includes(values.role)) {
      throw new ConfigError(`--role must be one of ${ROLES.join(", ")}`);
    }
    const key = `aegis_${randomBytes(32).toString("base64url")}`;
    const entry = [
      `- name: ${JSON.stringify(values.name)}`,
      `  sha256: ${sha256Hex(key)}`,
      `  role: ${values.role}`,
      ...(values["agent-id"] === undefined ? [] : [`  agent_id: ${JSON.stringify(values["agent-id"])}`]),
    ].join("\n");
    // The same validation the server applies: a bad name or glob is refused here, not at startup.
    parseKeysFile(entry);
    process.stdout.write(
      `# The key (shown once; give it to the client as X-API-Key or Authorization: Bearer):\n${key}\n\n` +
        `# The entry for AEGIS_KEYS_FILE (it holds only the key's SHA-256):\n${entry}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`aegis keygen: ${err.message}\n${USAGE}`);
      return 1;
    }
    if (err instanceof Error && err.name === "KeysFileError") {
      process.stderr.write(`aegis keygen: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
