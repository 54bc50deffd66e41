// state trigger: an entity's state changed, optionally from/to values, optionally held `for` a while.
import type { TriggerConfig } from '../schema.js';
import { attributeOf, sameJson, type TriggerFactory } from '../types.js';

type Config = Extract<TriggerConfig, { type: 'state' }>;

export const stateTrigger: TriggerFactory<Config> = (config, ctx, fire) => {
  let off: (() => void) | undefined;
  let pending: NodeJS.Timeout | undefined;
  let offAttributes: (() => void) | undefined;
  /** With `attribute`: its last value, to tell a change of it from a change of something else. */
  let last: unknown;
  return {
    async start() {
      last = config.attribute ? attributeOf(ctx.registry.get(config.entity), config.attribute) : undefined;
      const changed = (e: { entityId: string; oldState?: unknown; newState?: unknown }) => {
        if (e.entityId !== config.entity) return;
        let from: unknown = e.oldState;
        let to: unknown = e.newState;
        if (config.attribute) {
          from = last;
          to = attributeOf(ctx.registry.get(config.entity), config.attribute);
          if (sameJson(from, to)) return; // another attribute changed
          last = to;
        }
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
      };
      off = ctx.events.on('entity.stateChanged', changed);
      // an attribute can change while the state stays (a light dimmed while on)
      if (config.attribute) offAttributes = ctx.events.on('entity.attributesChanged', changed);
    },
    async stop() {
      off?.();
      offAttributes?.();
      if (pending) clearTimeout(pending);
    },
  };
};
