// system trigger: the hub started, or is stopping, or another automation's run failed
// (automation_failed: trigger.automation and trigger.error say which and why).
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';
import { realClock } from '../../clock.js';

type Config = Extract<TriggerConfig, { type: 'system' }>;

export const systemTrigger: TriggerFactory<Config> = (config, ctx, fire, where) => {
  let off: (() => void) | undefined;
  return {
    async start() {
      if (config.event === 'automation_failed') {
        off = ctx.events.on('automation.run', (r) => {
          // its own failures do not fire it again (no loop of failing alerts)
          if (r.status !== 'failed' || r.automation === where?.automation) return;
          fire({
            type: 'system',
            time: (ctx.clock ?? realClock).now(),
            description: `automation ${r.automation} failed${r.error ? `: ${r.error}` : ''}`,
            event: config.event,
            automation: r.automation,
            error: r.error ?? null,
          });
        });
        return;
      }
      off = ctx.events.on(`system.${config.event}`, () =>
        fire({
          type: 'system',
          time: (ctx.clock ?? realClock).now(),
          description: `hub ${config.event}`,
          event: config.event,
        }),
      );
    },
    async stop() {
      off?.();
    },
  };
};
