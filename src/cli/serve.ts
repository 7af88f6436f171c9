// `aegis serve [POLICY] [--host H] [--port P]`: runs the server until SIGTERM/SIGINT.
//
// Startup line (tests and scripts parse it to learn the port when `--port 0` is used): once the
// socket is bound, ONE pino JSON line is written to stdout at level "warn", so it shows at the
// default log level (and at ERROR too):
//   {"level":"warn","time":"...","pid":123,"msg":"listening","address":"http://127.0.0.1:PORT",
//    "host":"127.0.0.1","port":PORT,"tls":false,"policy":"/abs/policy.yaml","version":"0.1.0"}
// `address` is `https://...` with TLS; IPv6 hosts are bracketed (`http://[::1]:PORT`).
//
// Every startup error (bad variable, missing or invalid policy, port in use) is one line
// `aegis: <message>` on stderr (the policy's problems one per following line) and exit code 1.
import { resolve } from "node:path";
import { ConfigError, loadConfig } from "../config.js";
import type { BoundAddress } from "../server/listener.js";
import { createLogger } from "../server/logger.js";
import { type AegisServer, createAegisServer, SHUTDOWN_GRACE_MS } from "../server/server.js";
import { readVersion } from "../version.js";
import { parseServeArgs } from "./args.js";

const HELP = `Usage: aegis serve [POLICY] [--host HOST] [--port PORT]

POLICY defaults to $AEGIS_POLICY_PATH, else ./policy.yaml.
Environment: AEGIS_HOST, AEGIS_PORT, AEGIS_LOG_LEVEL, AEGIS_API_KEY, AEGIS_ADMIN_KEY,
AEGIS_KEYS_FILE, AEGIS_AUDIT_DB, DATABASE_URL, AEGIS_TLS_CERT, AEGIS_TLS_KEY, AEGIS_CORS_ORIGINS,
AEGIS_MAX_BODY_BYTES, AEGIS_MAX_BATCH, AEGIS_MAX_PARAMS_BYTES, AEGIS_MAX_DESCRIPTION_BYTES,
AEGIS_MAX_RESULT_BYTES, AEGIS_MAX_AUDIT_PAGE_BYTES, AEGIS_APPROVAL_TIMEOUT,
AEGIS_AGENT_HEARTBEAT_TIMEOUT.
Transport limits (seconds; counts): AEGIS_HANDSHAKE_TIMEOUT (10), AEGIS_HEADERS_TIMEOUT (10),
AEGIS_REQUEST_TIMEOUT (30), AEGIS_IDLE_TIMEOUT (65), AEGIS_MAX_CONNECTIONS (10000),
AEGIS_MAX_STREAMS (100, per HTTP/2 connection).
`;

function fail(message: string): number {
  process.stderr.write(`aegis: ${message}\n`);
  return 1;
}

export async function run(args: string[]): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    const flags = parseServeArgs(args);
    if (flags.help) {
      process.stdout.write(HELP);
      return 0;
    }
    config = loadConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }

  const logger = createLogger(config.logLevel);
  const policyPath = resolve(config.policyPath);

  // Signals are handled from the first moment: in a container this process is PID 1, where an
  // unhandled SIGTERM is ignored, and opening a fresh embedded store can take seconds. The
  // handlers go in before createAegisServer, whose first file read is already under way when it
  // returns; a signal handler only runs from the event loop, so `server` and `listening` (set
  // below in this same synchronous run) are always assigned by then.
  let server: AegisServer;
  let listening: Promise<BoundAddress>;
  let stopping = false;
  const stopped = new Promise<number>((done) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.warn({ signal, grace_ms: SHUTDOWN_GRACE_MS }, "shutting down");
      const exit = (code: number) => {
        done(code);
        // Nothing may keep a stopped server alive (a stuck client, a library timer).
        setTimeout(() => process.exit(code), 200).unref();
      };
      // A startup that never finishes (a policy path that blocks) must not keep us alive forever.
      setTimeout(() => {
        logger.error({ grace_ms: SHUTDOWN_GRACE_MS }, "shutdown did not finish in time; exiting");
        process.exit(1);
      }, SHUTDOWN_GRACE_MS * 2).unref();
      // Let a startup in progress finish binding first, so close() sees the listener.
      listening
        .catch(() => undefined)
        .then(() => server.close())
        .then(
          () => {
            logger.warn({}, "stopped");
            exit(0);
          },
          (err: unknown) => {
            logger.error({ err: err instanceof Error ? err.message : String(err) }, "shutdown failed");
            exit(1);
          },
        );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  server = createAegisServer({ config: { ...config, policyPath }, logger });
  listening = server.listen({ host: config.host, port: config.port });
  // An explicit reload: the file wins even over a policy PUT since (it is what the operator asked).
  process.on("SIGHUP", () => {
    void server.reloadPolicy("SIGHUP").catch(() => undefined);
    void server.reloadKeys("SIGHUP").catch(() => undefined);
  });

  let address: Awaited<typeof listening>;
  try {
    address = await listening;
  } catch (err) {
    if (stopping) return stopped;
    const code = fail(err instanceof Error ? err.message : String(err));
    // Release the audit store (its lock, a pool) and make sure nothing keeps the process up.
    setTimeout(() => process.exit(code), 2000).unref();
    await server.close().catch(() => undefined);
    return code;
  }
  if (stopping) return stopped;

  // The listening line shows even at AEGIS_LOG_LEVEL=ERROR: scripts rely on it to find the port.
  const startup = logger.isLevelEnabled("warn") ? logger : logger.child({}, { level: "warn" });
  startup.warn(
    {
      address: address.url,
      host: address.host,
      port: address.port,
      tls: address.url.startsWith("https:"),
      policy: policyPath,
      version: readVersion(),
    },
    "listening",
  );

  // A bug in one request must not take the server down; it is logged and the request gets a 500.
  process.on("uncaughtException", (err) =>
    logger.error({ err: err.message, stack: err.stack }, "uncaught exception"),
  );
  process.on("unhandledRejection", (err) =>
    logger.error({ err: err instanceof Error ? err.message : String(err) }, "unhandled rejection"),
  );
  return stopped;
}
