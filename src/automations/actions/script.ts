// action step: run a script with `trigger` in scope, until its publishes and timers are done.
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';

type Config = Extract<ActionConfig, { type: 'script' }>;

export const scriptAction: ActionStep<Config> = async (config, ctx, trigger, signal, label) => {
  if (config.script_file) {
    // e154's: automationAction(entityId) of the file runs
    if (!ctx.scripts.callFile) throw new Error('script_file is not available in this run');
    const { error } = await ctx.scripts.callFile(config.script_file, 'automationAction', [trigger.entity ?? null]);
    if (error) throw new Error(error);
    return;
  }
  const { error } = await ctx.scripts.run(label, config.code ?? '', config.language, { trigger }, signal);
  if (error) throw new Error(error);
};
