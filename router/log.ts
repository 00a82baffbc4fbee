/**
 * The router process's logger: pino, one JSON object per line on stdout, `scope` on every line
 * (`router:link`, `router:select`, `router:health`, `router:forward`). A copy of the runtime's,
 * since router/ imports nothing from runtime/ (STYLE.md §2).
 */
import { pino, type Logger } from "pino";

export type { Logger };
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: null,
      messageKey: "msg",
      timestamp: () => `,"ts":${Date.now()}`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything: for tests and embedders that bring no logger. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
