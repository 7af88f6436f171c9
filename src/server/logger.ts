// pino JSON on stdout. Level labels instead of numbers make lines greppable by people; keys and
// raw params are never passed to the logger (and the redact list is a second line of defence).
import { type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ["headers.authorization", 'headers["x-api-key"]', "apiKey", "adminKey", "params"],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
