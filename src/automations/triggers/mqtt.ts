// mqtt trigger: a topic filter with wildcards, optionally a payload or JSON values to match;
// retained messages only with `retained: include`.
import type { TriggerConfig } from '../schema.js';
import { capture } from '../../mqtt/topic.js';
import { pathValue, sameJson, type TriggerFactory } from '../types.js';
import { realClock } from '../../clock.js';

type Config = Extract<TriggerConfig, { type: 'mqtt' }>;

const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

export const mqttTrigger: TriggerFactory<Config> = (config, ctx, fire, where) => {
  let off: (() => void) | undefined;
  /** A message on the topic that did not fire it: why, for "why didn't it run?". */
  const missed = (topic: string, reason: string) =>
    where &&
    ctx.nearMiss?.(where.automation, { time: (ctx.clock ?? realClock).now(), step: where.step, what: topic, reason });
  return {
    async start() {
      off = ctx.events.on('mqtt.message', (m) => {
        const params = capture(config.topic, m.topic);
        if (!params) return;
        // a retained message is the broker's memory (handed to every new subscriber, e.g. at start), not an event
        if (m.retain && config.retained !== 'include')
          return missed(m.topic, 'a retained message (the broker kept it; retained: include takes it)');
        const payload = m.payload.toString('utf8');
        if (config.payload !== undefined && payload !== config.payload)
          return missed(m.topic, `payload ${show(payload)} is not ${show(config.payload)}`);
        let json: unknown;
        try {
          json = JSON.parse(payload);
        } catch {
          json = undefined;
        }
        if (config.json) {
          if (json === undefined)
            return missed(m.topic, `payload ${show(payload)} is not JSON (json: wants ${show(config.json)})`);
          for (const [p, v] of Object.entries(config.json))
            if (!sameJson(pathValue(json, p), v))
              return missed(m.topic, `json ${p} is ${show(pathValue(json, p))}, wants ${show(v)}`);
        }
        fire({
          type: 'mqtt',
          time: (ctx.clock ?? realClock).now(),
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
