/**
 * pino loggers: JSON lines by default (machine-readable, cheap), pretty when a person is watching.
 * Logs go to stderr so stdout stays free for results.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export function makeLogger(level: string, prettyPrint: boolean): Logger {
  return prettyPrint
    ? pino({ level }, pretty({ colorize: true, destination: 2, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }))
    : pino({ level }, pino.destination({ fd: 2, sync: true }));
}
