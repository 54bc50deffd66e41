// action step: call an entity action.
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';

type Config = Extract<ActionConfig, { type: 'action' }>;

export const entityAction: ActionStep<Config> = (config, ctx, _trigger, _signal, label) =>
  ctx.callAction(config.entity, config.action, config.params ?? {}, label);
