// Command-line parsing for every `aegis` command, on node:util's parseArgs, with one wording for
// mistakes (`unknown option --x`, `--port needs a value`) so each command can print it and exit 1.
import { parseArgs } from "node:util";
import { ConfigError, type ConfigFlags } from "../config.js";

type OptionSpec = {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** What the value is, for `--output needs a file name` (default "value"). */
  readonly valueName?: string;
};

export interface Parsed<V> {
  readonly values: V;
  readonly positionals: string[];
}

/**
 * Parses `args` for `options`; `help` (-h, --help) is always accepted. Throws ConfigError with a
 * one-line message for an unknown option, a missing value, or the wrong number of positionals.
 */
export function parseCommandLine<V extends Record<string, string | boolean | string[] | undefined>>(
  args: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
  positionals: { readonly min: number; readonly max: number; readonly what: string },
): Parsed<V & { help?: boolean }> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    const specs: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
    for (const [name, o] of Object.entries(options)) {
      specs[name] = {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.multiple ? { multiple: true } : {}),
      };
    }
    parsed = parseArgs({
      args: [...args],
      options: { ...specs, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (err) {
    throw new ConfigError(describeParseError(err, options));
  }
  const n = parsed.positionals.length;
  if (parsed.values["help"] !== true) {
    if (n > positionals.max) {
      throw new ConfigError(
        positionals.max === 0
          ? `unexpected argument ${parsed.positionals[0]}`
          : `unexpected argument ${parsed.positionals[positionals.max]} (${positionals.what})`,
      );
    }
    if (n < positionals.min) throw new ConfigError(`expected ${positionals.what}`);
  }
  return { values: parsed.values as V & { help?: boolean }, positionals: parsed.positionals };
}

function describeParseError(err: unknown, options: Readonly<Record<string, OptionSpec>>): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-[^' ,]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option ?? message}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && /argument missing/.test(message)) {
    const spec = Object.entries(options).find(
      ([name, o]) => `--${name}` === option || `-${o.short}` === option,
    )?.[1];
    return `${option ?? "an option"} needs a ${spec?.valueName ?? "value"}`;
  }
  return message;
}

/** `aegis serve [POLICY] [--host H] [--port P]` (also `--host=H`). */
export function parseServeArgs(args: readonly string[]): ConfigFlags & { readonly help?: boolean } {
  const { values, positionals } = parseCommandLine<{ host?: string; port?: string }>(
    args,
    { host: { type: "string" }, port: { type: "string" } },
    { min: 0, max: 1, what: "one policy file only" },
  );
  return { policy: positionals[0], host: values.host, port: values.port, help: values.help };
}
