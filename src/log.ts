// One pino logger for the process; each module takes a child ({module: 'broker'}).
// JSON lines for machines; on a terminal, readable lines (pino-pretty) instead.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import { hideSecrets } from './config/secrets.js';

export type { Logger };

const redact = { paths: ['password', '*.password', 'config.mqtt.password'], censor: '[secret]' };
// every value a `!secret` put in the config is hidden in every line, whichever field holds it
const hooks = { streamWrite: hideSecrets };

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  const tty = destination === process.stderr && process.stderr.isTTY;
  if (tty) {
    // loaded only for a terminal (about 10 MiB): a service logging JSON never holds it
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    const stream = pretty({
      destination: 2,
      sync: true,
      colorize: !process.env.NO_COLOR,
      translateTime: 'HH:MM:ss.l',
      ignore: 'pid,hostname',
      messageKey: 'msg',
      singleLine: true,
    });
    return pino({ level, base: undefined, redact, hooks }, stream);
  }
  return pino({ level, base: undefined, redact, hooks }, destination as pino.DestinationStream);
}
