// pino JSON logs on stdout. Secrets never reach a log line: password fields are censored.
import { type Logger, pino } from "pino";

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ["password", "*.password"], censor: "[redacted]" },
  });
}
