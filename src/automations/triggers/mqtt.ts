// mqtt trigger: a topic filter with wildcards, optionally a payload or JSON values to match;
// retained messages only with `retained: include`.
import type { TriggerConfig } from '../schema.js';
import { capture } from '../../mqtt/topic.js';
import { pathValue, sameJson, type TriggerFactory } from '../types.js';

type Config = Extract<TriggerConfig, { type: 'mqtt' }>;

export const mqttTrigger: TriggerFactory<Config> = (config, ctx, fire) => {
  let off: (() => void) | undefined;
  return {
    async start() {
      off = ctx.events.on('mqtt.message', (m) => {
        // a retained message is the broker's memory (handed to every new subscriber, e.g. at start), not an event
        if (m.retain && config.retained !== 'include') return;
        const params = capture(config.topic, m.topic);
        if (!params) return;
        const payload = m.payload.toString('utf8');
        if (config.payload !== undefined && payload !== config.payload) return;
        let json: unknown;
        try {
          json = JSON.parse(payload);
        } catch {
          json = undefined;
        }
        if (config.json && !Object.entries(config.json).every(([p, v]) => sameJson(pathValue(json, p), v))) return;
        fire({
          type: 'mqtt',
          time: Date.now(),
          description: `mqtt message on ${m.topic}`,
          topic: m.topic,
          payload,
          json,
          params,
          ...(m.retain ? { retained: true } : {}),
        });
      });
      await ctx.bus.subscribe(config.topic, 1);
    },
    async stop() {
      off?.();
      await ctx.bus.unsubscribe(config.topic).catch(() => {});
    },
  };
};
