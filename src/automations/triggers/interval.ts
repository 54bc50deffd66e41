// interval trigger: every N (a duration).
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';

type Config = Extract<TriggerConfig, { type: 'interval' }>;

export const intervalTrigger: TriggerFactory<Config> = (config, _ctx, fire) => {
  let timer: NodeJS.Timeout | undefined;
  return {
    async start() {
      timer = setInterval(
        () => fire({ type: 'interval', time: Date.now(), description: `every ${config.every} ms` }),
        Math.max(10, config.every),
      );
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
};
