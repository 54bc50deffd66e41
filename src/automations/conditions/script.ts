// script condition: a sandboxed JavaScript expression with `trigger` in scope.
import type { ConditionConfig } from '../schema.js';
import type { ConditionCheck } from '../types.js';

type Config = Extract<ConditionConfig, { type: 'script' }>;

export const scriptCondition: ConditionCheck<Config> = async (config, ctx, trigger, label) => {
  if (config.script_file) {
    // e154's: automationCondition(entityId) of the file decides
    if (!ctx.scripts.callFile) throw new Error('script_file is not available in this run');
    const { value, error } = await ctx.scripts.callFile(config.script_file, 'automationCondition', [
      trigger.entity ?? null,
    ]);
    if (error) throw new Error(error);
    return {
      result: Boolean(value),
      detail: `automationCondition of ${config.script_file} returned ${JSON.stringify(value)}`,
    };
  }
  const expression = config.expression ?? 'false';
  const { value, error } = await ctx.scripts.evaluate(label, expression, { trigger });
  if (error) throw new Error(error);
  return { result: Boolean(value), detail: `${expression} is ${JSON.stringify(value)}` };
};
