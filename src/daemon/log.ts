// pino JSON logs on stdout; readable lines (pino-pretty) when stdout is a terminal. Secrets never
// reach a log line: password fields are censored.
import { type Logger, type LoggerOptions, pino } from "pino";

export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  const options: LoggerOptions = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["password", "*.password"], censor: "[redacted]" },
  };
  if (pretty) {
    return pino(
      options,
      pino.transport({
        target: "pino-pretty",
        options: { translateTime: "SYS:HH:MM:ss.l", singleLine: true, destination: 1 },
      }),
    );
  }
  return pino({ ...options, formatters: { level: (label) => ({ level: label }) } });
}

/** BGPConfiguration logSeverityScreen (Calico's names) as a pino level. */
export function levelOfSeverity(severity: string): string | undefined {
  const levels: Record<string, string> = {
    debug: "debug",
    info: "info",
    warning: "warn",
    warn: "warn",
    error: "error",
    fatal: "fatal",
    panic: "fatal",
    none: "silent",
  };
  return levels[severity.toLowerCase()];
}
