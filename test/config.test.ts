// Flags beat environment beat defaults; every bad value is a one-line ConfigError.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseServeArgs } from "../src/cli/args.js";
import { ConfigError, isLoopback, loadConfig, parseLogLevel } from "../src/config.js";

describe("config", () => {
  test("defaults", () => {
    const c = loadConfig({}, {});
    assert.equal(c.policyPath, "./policy.yaml");
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.port, 8000);
    assert.equal(c.logLevel, "warn");
    assert.equal(c.maxBodyBytes, 1048576);
    assert.equal(c.maxBatch, 1000);
    assert.equal(c.approvalTimeoutMs, 30000);
    assert.deepEqual(c.corsOrigins, []);
    assert.equal(c.apiKey, undefined);
    assert.equal(c.auditDb, undefined);
  });

  test("flags beat environment beat defaults", () => {
    const env = { AEGIS_POLICY_PATH: "/env.yaml", AEGIS_HOST: "0.0.0.0", AEGIS_PORT: "9000" };
    const fromEnv = loadConfig({}, env);
    assert.deepEqual([fromEnv.policyPath, fromEnv.host, fromEnv.port], ["/env.yaml", "0.0.0.0", 9000]);
    const flags = parseServeArgs(["/flag.yaml", "--host", "::1", "--port=0"]);
    const fromFlags = loadConfig(flags, env);
    assert.deepEqual([fromFlags.policyPath, fromFlags.host, fromFlags.port], ["/flag.yaml", "::1", 0]);
  });

  test("environment values", () => {
    const c = loadConfig(
      {},
      {
        AEGIS_LOG_LEVEL: "Debug",
        AEGIS_API_KEY: "k",
        AEGIS_ADMIN_KEY: "a",
        AEGIS_CORS_ORIGINS: "https://a.example.com, http://localhost:3000",
        AEGIS_MAX_BODY_BYTES: "2048",
        AEGIS_MAX_BATCH: "7",
        AEGIS_APPROVAL_TIMEOUT: "1.5",
        AEGIS_TLS_CERT: "c.pem",
        AEGIS_TLS_KEY: "k.pem",
        AEGIS_AUDIT_DB: "memory:",
        DATABASE_URL: "postgres://x",
      },
    );
    assert.equal(c.logLevel, "debug");
    assert.deepEqual(c.corsOrigins, ["https://a.example.com", "http://localhost:3000"]);
    assert.deepEqual(
      [c.apiKey, c.adminKey, c.maxBodyBytes, c.maxBatch, c.approvalTimeoutMs, c.tlsCert, c.tlsKey],
      ["k", "a", 2048, 7, 1500, "c.pem", "k.pem"],
    );
    assert.deepEqual([c.auditDb, c.databaseUrl], ["memory:", "postgres://x"]);
  });

  test("log levels: the seed's names in any case and pino's", () => {
    for (const [input, level] of [
      ["DEBUG", "debug"],
      ["info", "info"],
      ["WARNING", "warn"],
      ["warn", "warn"],
      ["Error", "error"],
      ["trace", "trace"],
      ["fatal", "fatal"],
      ["silent", "silent"],
    ] as const) {
      assert.equal(parseLogLevel(input), level, input);
    }
    assert.equal(parseLogLevel("loud"), undefined);
  });

  for (const [name, env, pattern] of [
    ["port not a number", { AEGIS_PORT: "http" }, /AEGIS_PORT/],
    ["port out of range", { AEGIS_PORT: "70000" }, /AEGIS_PORT/],
    ["negative port", { AEGIS_PORT: "-1" }, /AEGIS_PORT/],
    ["log level", { AEGIS_LOG_LEVEL: "loud" }, /AEGIS_LOG_LEVEL/],
    ["body limit", { AEGIS_MAX_BODY_BYTES: "1MB" }, /AEGIS_MAX_BODY_BYTES/],
    ["zero batch", { AEGIS_MAX_BATCH: "0" }, /AEGIS_MAX_BATCH/],
    ["cert without key", { AEGIS_TLS_CERT: "c.pem" }, /AEGIS_TLS_KEY/],
    ["cors origin", { AEGIS_CORS_ORIGINS: "not a url" }, /AEGIS_CORS_ORIGINS/],
    ["approval timeout", { AEGIS_APPROVAL_TIMEOUT: "soon" }, /AEGIS_APPROVAL_TIMEOUT/],
  ] as const) {
    test(`bad variable: ${name}`, () => {
      assert.throws(
        () => loadConfig({}, env),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message) && !e.message.includes("\n"),
      );
    });
  }

  test("bad flags", () => {
    assert.throws(() => parseServeArgs(["--port"]), ConfigError);
    assert.throws(() => parseServeArgs(["--bogus"]), ConfigError);
    assert.throws(() => parseServeArgs(["a.yaml", "b.yaml"]), ConfigError);
    assert.throws(() => loadConfig(parseServeArgs(["--port", "x"]), {}), /--port/);
    assert.deepEqual(parseServeArgs(["--help"]).help, true);
    // One wording for every command's mistakes.
    assert.throws(() => parseServeArgs(["--port"]), /^ConfigError: --port needs a value$/);
    assert.throws(() => parseServeArgs(["--bogus"]), /^ConfigError: unknown option --bogus$/);
  });

  test("loopback detection", () => {
    for (const h of ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]) assert.ok(isLoopback(h), h);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com"]) assert.ok(!isLoopback(h), h);
  });
});
