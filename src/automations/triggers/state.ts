// state trigger: an entity's state changed, optionally from/to values, optionally held `for` a while.
import type { TriggerConfig } from '../schema.js';
import { pathValue, sameJson, type TriggerFactory } from '../types.js';

type Config = Extract<TriggerConfig, { type: 'state' }>;

export const stateTrigger: TriggerFactory<Config> = (config, ctx, fire) => {
  let off: (() => void) | undefined;
  let pending: NodeJS.Timeout | undefined;
  const pick = (state: unknown) => (config.attribute ? pathValue(state, config.attribute) : state);
  return {
    async start() {
      off = ctx.events.on('entity.stateChanged', (e) => {
        if (e.entityId !== config.entity) return;
        const from = pick(e.oldState);
        const to = pick(e.newState);
        if (config.attribute && sameJson(from, to)) return; // another attribute changed
        // leaving the awaited state cancels a pending `for`
        if (pending) {
          clearTimeout(pending);
          pending = undefined;
        }
        if (config.from !== undefined && !sameJson(from, config.from)) return;
        if (config.to !== undefined && !sameJson(to, config.to)) return;
        const event = {
          type: 'state',
          time: Date.now(),
          description: `${config.entity} changed from ${JSON.stringify(from)} to ${JSON.stringify(to)}`,
          entity: config.entity,
          from,
          to,
        };
        if (config.for === undefined) return fire(event);
        pending = setTimeout(() => {
          pending = undefined;
          fire({ ...event, time: Date.now(), description: `${event.description} and stayed for ${config.for} ms` });
        }, config.for);
      });
    },
    async stop() {
      off?.();
      if (pending) clearTimeout(pending);
    },
  };
};
