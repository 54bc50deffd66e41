// system trigger: the hub started, or is stopping.
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';

type Config = Extract<TriggerConfig, { type: 'system' }>;

export const systemTrigger: TriggerFactory<Config> = (config, ctx, fire) => {
  let off: (() => void) | undefined;
  return {
    async start() {
      off = ctx.events.on(`system.${config.event}`, () =>
        fire({ type: 'system', time: Date.now(), description: `hub ${config.event}`, event: config.event }),
      );
    },
    async stop() {
      off?.();
    },
  };
};
