// `aegis healthcheck [--url URL]`: exit 0 when the server answers its health route with 200, for
// Docker HEALTHCHECK in images without curl. Default URL from AEGIS_HOST/AEGIS_PORT.
import { ConfigError } from "../config.js";

export async function run(args: string[]): Promise<number> {
  let url: string | undefined;
  let timeoutMs = 5000;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--(url|timeout)(?:=(.*))?$/.exec(a);
    if (!m) {
      process.stderr.write(`aegis healthcheck: unknown argument ${a}\n`);
      return 1;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined) {
      process.stderr.write(`aegis healthcheck: --${m[1]} needs a value\n`);
      return 1;
    }
    if (m[1] === "url") url = value;
    else timeoutMs = Number(value) * 1000;
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
