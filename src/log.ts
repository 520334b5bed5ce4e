/**
 * pino loggers: JSON lines by default (machine-readable, cheap), pretty when a person is watching.
 * Logs go to stderr so stdout stays free for results.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

let root: Logger | undefined;

export function logger(name?: string): Logger {
  if (!root) {
    const level = process.env['BRAINPILOT_LOG'] ?? 'info';
    root = process.stderr.isTTY
      ? pino({ level }, pretty({ colorize: true, destination: 2, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }))
      : pino({ level }, pino.destination({ fd: 2, sync: true }));
  }
  return name ? root.child({ module: name }) : root;
}
