// time trigger: a cron expression (5 or 6 fields, via croner) in a time zone.
import { Cron } from 'croner';
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';

type Config = Extract<TriggerConfig, { type: 'time' }>;

/** Throws a clear error for a bad expression or time zone (checked when automations load). */
export function checkCron(config: Config): void {
  try {
    new Cron(config.cron, { timezone: config.timezone, paused: true }).stop();
  } catch (err) {
    throw new Error(
      `"${config.cron}"${config.timezone ? ` in ${config.timezone}` : ''} is not a valid schedule: ${(err as Error).message}`,
    );
  }
}

export const timeTrigger: TriggerFactory<Config> = (config, _ctx, fire) => {
  let job: Cron | undefined;
  return {
    async start() {
      job = new Cron(config.cron, { timezone: config.timezone, protect: true }, () => {
        fire({ type: 'time', time: Date.now(), description: `schedule ${config.cron}` });
      });
    },
    async stop() {
      job?.stop();
    },
  };
};
