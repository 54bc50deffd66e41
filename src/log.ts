// One pino logger for the process; each module takes a child ({module: 'broker'}).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: undefined, redact: { paths: ['password', '*.password', 'config.mqtt.password'], censor: '[secret]' } }, destination as pino.DestinationStream);
}
