// action step: run a script with `trigger` in scope, until its publishes and timers are done.
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';

type Config = Extract<ActionConfig, { type: 'script' }>;

export const scriptAction: ActionStep<Config> = async (config, ctx, trigger, signal, label) => {
  const { error } = await ctx.scripts.run(label, config.code, config.language, { trigger }, signal);
  if (error) throw new Error(error);
};
