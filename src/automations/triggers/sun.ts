// sun trigger: sunrise, sunset, dawn, dusk or noon at the home (config `home:`), with an offset
// (-30m: before it). Each time is an instant, so a daylight saving change moves nothing; where the
// event does not come (polar night, midnight sun) the trigger waits for the day it does.
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';
import { realClock } from '../../clock.js';
import { describeDuration } from '../duration.js';

type Config = Extract<TriggerConfig, { type: 'sun' }>;

const DAY = 86_400_000;
const MAX_TIMER = 2 ** 31 - 1;

export const describeOffset = (ms: number) => (ms === 0 ? '' : ` ${ms < 0 ? '-' : '+'}${describeDuration(ms)}`);

export const sunTrigger: TriggerFactory<Config> = (config, ctx, fire) => {
  const clock = ctx.clock ?? realClock;
  let handle: unknown;
  let stopped = false;
  const schedule = () => {
    if (stopped || !ctx.sun) return;
    const now = clock.now();
    const at = ctx.sun.next(config.event, now, config.offset);
    handle = clock.setTimeout(
      () => {
        if (stopped) return;
        if (at !== null && clock.now() >= at)
          fire({
            type: 'sun',
            time: clock.now(),
            event: config.event,
            description: `${config.event}${describeOffset(config.offset)} (${new Date(at).toISOString()})`,
          });
        schedule();
      },
      // none within a year (a polar place): look again tomorrow
      Math.max(0, Math.min((at ?? now + DAY) - now, MAX_TIMER)),
    );
  };
  return {
    async start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
};
