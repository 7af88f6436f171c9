// The keys in force: AEGIS_API_KEY / AEGIS_ADMIN_KEY and, with AEGIS_KEYS_FILE, the file's
// principals. The file is read and validated at startup (a bad file stops the server, with line and
// column), and again when it changes or on SIGHUP; a reload that fails is logged and the previous
// keys stay in force.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { AegisError } from "../errors.js";
import { type FileWatch, watchFile } from "../file-watch.js";
import { describeFsError } from "../fs-errors.js";
import { formatProblem } from "../policy/index.js";
import { type EnvKeys, KeyRing } from "./key-ring.js";
import { type KeysFile, KeysFileError, parseKeysFile } from "./keys-file.js";

interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

async function loadKeysFile(path: string): Promise<KeysFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AegisError("invalid_argument", `cannot read keys file ${path}: ${describeFsError(err)}`);
  }
  try {
    return parseKeysFile(text, path);
  } catch (err) {
    if (err instanceof KeysFileError) {
      const lines = err.problems.map((p) => formatProblem(p, { file: path })).join("\n");
      throw new AegisError("invalid_argument", `invalid keys file:\n${lines}`);
    }
    throw err;
  }
}

export class KeysSource {
  private ring: KeyRing;
  private watcher: FileWatch | undefined;

  private constructor(
    private readonly env: EnvKeys,
    readonly path: string | undefined,
    ring: KeyRing,
    private readonly logger: Logger | undefined,
  ) {
    this.ring = ring;
  }

  /** Throws AegisError (one message with every problem) when the file is missing or invalid. */
  static async open(env: EnvKeys, keysFile: string | undefined, logger?: Logger): Promise<KeysSource> {
    if (keysFile === undefined) return new KeysSource(env, undefined, new KeyRing(env), logger);
    const path = resolve(keysFile);
    const file = await loadKeysFile(path);
    for (const w of file.warnings) logger?.warn({ path }, `keys file: ${formatProblem(w, { file: path })}`);
    return new KeysSource(env, path, new KeyRing(env, file.entries), logger);
  }

  /** The keys in force now. */
  get current(): KeyRing {
    return this.ring;
  }

  /** Re-reads the file; keeps the previous keys when it is unreadable or invalid. */
  async reload(reason: string): Promise<boolean> {
    if (this.path === undefined) return false;
    try {
      const file = await loadKeysFile(this.path);
      this.ring = new KeyRing(this.env, file.entries);
      this.logger?.warn({ path: this.path, reason, principals: this.ring.size }, "keys reloaded");
      return true;
    } catch (err) {
      this.logger?.error(
        { path: this.path, reason, err: err instanceof Error ? err.message : String(err) },
        "keys reload failed; keeping the previous keys",
      );
      return false;
    }
  }

  watch(): void {
    if (this.path === undefined || this.watcher) return;
    const path = this.path;
    this.watcher = watchFile(path, () => void this.reload("file changed"), {
      onError: (err) => this.logger?.warn({ path, err: err.message }, "keys file watch failed"),
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
