// The transport limits' environment variables: defaults, units (seconds), validation with one-line
// messages that name the variable, and their place in the composed Config.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.js";
import { resolveConfig } from "../../src/server/server.js";
import {
  TRANSPORT_DEFAULTS,
  TRANSPORT_ENV,
  transportLimitsFromEnv,
} from "../../src/server/transport-config.js";

describe("transport limits from the environment", () => {
  test("defaults", () => {
    assert.deepEqual(transportLimitsFromEnv({}), {
      handshakeTimeoutMs: 10_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      idleTimeoutMs: 65_000,
      maxConnections: 10_000,
      maxStreams: 100,
    });
    assert.deepEqual(loadConfig({}, {}).transport, TRANSPORT_DEFAULTS);
    assert.deepEqual(resolveConfig({}).transport, TRANSPORT_DEFAULTS);
  });

  test("every variable, timeouts in seconds (fractions allowed)", () => {
    const l = loadConfig(
      {},
      {
        AEGIS_HANDSHAKE_TIMEOUT: "2.5",
        AEGIS_HEADERS_TIMEOUT: "5",
        AEGIS_REQUEST_TIMEOUT: " 20 ",
        AEGIS_IDLE_TIMEOUT: "90",
        AEGIS_MAX_CONNECTIONS: "500",
        AEGIS_MAX_STREAMS: "16",
      },
    ).transport;
    assert.deepEqual(l, {
      handshakeTimeoutMs: 2500,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 20_000,
      idleTimeoutMs: 90_000,
      maxConnections: 500,
      maxStreams: 16,
    });
    assert.deepEqual(Object.values(TRANSPORT_ENV).sort(), [
      "AEGIS_HANDSHAKE_TIMEOUT",
      "AEGIS_HEADERS_TIMEOUT",
      "AEGIS_IDLE_TIMEOUT",
      "AEGIS_MAX_CONNECTIONS",
      "AEGIS_MAX_STREAMS",
      "AEGIS_REQUEST_TIMEOUT",
    ]);
  });

  test("bad values are one-line ConfigErrors naming the variable", () => {
    for (const [name, value] of [
      ["AEGIS_HEADERS_TIMEOUT", "0"],
      ["AEGIS_HEADERS_TIMEOUT", "-1"],
      ["AEGIS_REQUEST_TIMEOUT", "ten"],
      ["AEGIS_IDLE_TIMEOUT", "1e3"],
      ["AEGIS_HANDSHAKE_TIMEOUT", "100000"],
      ["AEGIS_MAX_CONNECTIONS", "0"],
      ["AEGIS_MAX_CONNECTIONS", "1.5"],
      ["AEGIS_MAX_STREAMS", "20000"],
    ] as const) {
      assert.throws(
        () => loadConfig({}, { [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(name) && !e.message.includes("\n"),
        `${name}=${value}`,
      );
    }
    assert.throws(
      () => loadConfig({}, { AEGIS_HEADERS_TIMEOUT: "40" }),
      /AEGIS_HEADERS_TIMEOUT \(40 s\) must not exceed AEGIS_REQUEST_TIMEOUT \(30 s\)/,
    );
  });

  test("a request timeout below the default headers timeout takes it down (headers are part of it)", () => {
    const l = loadConfig({}, { AEGIS_REQUEST_TIMEOUT: "4" }).transport;
    assert.deepEqual([l.headersTimeoutMs, l.requestTimeoutMs], [4000, 4000]);
    assert.equal(resolveConfig({ transport: { requestTimeoutMs: 3000 } }).transport.headersTimeoutMs, 3000);
  });

  test("programmatic config may name only some limits", () => {
    const c = resolveConfig({ transport: { maxStreams: 7 } });
    assert.equal(c.transport.maxStreams, 7);
    assert.equal(c.transport.requestTimeoutMs, TRANSPORT_DEFAULTS.requestTimeoutMs);
  });
});
