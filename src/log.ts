import { type Logger, pino } from "pino";
import type { Config } from "./config.js";

/** Structured JSON logs on stdout. Callers log ids and codes, never tokens, keys, payloads or addresses. */
export function createLogger(level: Config["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "cyphr" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["*.authorization", "*.token", "*.password", "*.signature"], censor: "[redacted]" },
  });
}
