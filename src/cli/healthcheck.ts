// `aegis healthcheck [--url URL]`: exit 0 when the server answers its health route with 200, for
// Docker HEALTHCHECK in images without curl. Default URL from AEGIS_HOST/AEGIS_PORT.
import { ConfigError } from "../config.js";
import { parseCommandLine } from "./args.js";

export async function run(args: string[]): Promise<number> {
  let url: string | undefined;
  let timeoutMs = 5000;
  try {
    const { values } = parseCommandLine<{ url?: string; timeout?: string }>(
      args,
      {
        url: { type: "string", valueName: "URL" },
        timeout: { type: "string", valueName: "number of seconds" },
      },
      { min: 0, max: 0, what: "no arguments" },
    );
    if (values.help) {
      process.stdout.write("Usage: aegis healthcheck [--url URL] [--timeout SECONDS]\n");
      return 0;
    }
    url = values.url;
    if (values.timeout !== undefined) {
      const s = Number(values.timeout);
      if (!(s > 0))
        throw new ConfigError(`--timeout must be a positive number of seconds, got "${values.timeout}"`);
      timeoutMs = s * 1000;
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`aegis healthcheck: ${err.message}\n`);
    return 1;
  }
  if (url === undefined) {
    const host = process.env["AEGIS_HOST"]?.trim() || "127.0.0.1";
    const port = process.env["AEGIS_PORT"]?.trim() || "8000";
    const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
    url = `http://${h}:${port}/api/v1/health`;
  }
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(Number.isFinite(timeoutMs) ? timeoutMs : 5000),
    });
    await res.body?.cancel();
    if (res.status === 200) return 0;
    process.stderr.write(`aegis healthcheck: ${url} answered ${res.status}\n`);
    return 1;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    process.stderr.write(`aegis healthcheck: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
