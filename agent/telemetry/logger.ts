import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The agent logs JSON lines to stderr (stdout carries events). pino.destination writes synchronously
 * here on purpose: log lines are rare (no per-event logs above debug), and a crash must not lose the
 * line that explains it.
 */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { name: 'kernwatch' } }, pino.destination({ fd: 2, sync: true }));
}

/** For tests and library use: a logger that drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
