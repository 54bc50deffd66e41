// interval trigger: every N (a duration), on the hub's clock (a test's clock moves it too).
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';
import { realClock } from '../../clock.js';

type Config = Extract<TriggerConfig, { type: 'interval' }>;

export const intervalTrigger: TriggerFactory<Config> = (config, ctx, fire) => {
  const clock = ctx.clock ?? realClock;
  const every = Math.max(10, config.every);
  let handle: unknown;
  let running = false;
  let due = 0;
  // each time from the last one's due time, so a slow handler or a late wake does not drift it
  const arm = () => {
    due += every;
    handle = clock.setTimeout(
      () => {
        if (!running) return;
        fire({ type: 'interval', time: clock.now(), description: `every ${config.every} ms` });
        if (due + every < clock.now()) due = clock.now() - every; // asleep for several: one run, not a burst
        arm();
      },
      Math.max(0, due - clock.now()),
    );
  };
  return {
    async start() {
      running = true;
      due = clock.now();
      arm();
    },
    async stop() {
      running = false;
      clock.clearTimeout(handle);
    },
  };
};
