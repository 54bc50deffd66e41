// action step: publish a message (strings as is, anything else as JSON; null clears with retain).
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';

type Config = Extract<ActionConfig, { type: 'publish' }>;

export const publishAction: ActionStep<Config> = async (config, ctx, _trigger, _signal, label) => {
  const p = config.payload;
  const bytes =
    p === undefined || p === null ? Buffer.alloc(0) : Buffer.from(typeof p === 'string' ? p : JSON.stringify(p));
  await ctx.bus.publish(config.topic, bytes, { qos: config.qos, retain: config.retain }, { script: label });
};
