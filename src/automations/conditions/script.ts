// script condition: a sandboxed JavaScript expression with `trigger` in scope.
import type { ConditionConfig } from '../schema.js';
import type { ConditionCheck } from '../types.js';

type Config = Extract<ConditionConfig, { type: 'script' }>;

export const scriptCondition: ConditionCheck<Config> = async (config, ctx, trigger, label) => {
  const { value, error } = await ctx.scripts.evaluate(label, config.expression, { trigger });
  if (error) throw new Error(error);
  return { result: Boolean(value), detail: `${config.expression} is ${JSON.stringify(value)}` };
};
