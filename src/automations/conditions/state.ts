// state condition: an entity's state (or one of its attributes) equals a value.
import type { ConditionConfig } from '../schema.js';
import { attributeOf, sameJson, type ConditionCheck } from '../types.js';

type Config = Extract<ConditionConfig, { type: 'state' }>;

export const stateCondition: ConditionCheck<Config> = async (config, ctx) => {
  const entity = ctx.registry.get(config.entity);
  if (!entity) return { result: false, detail: `no entity ${config.entity}` };
  const value = config.attribute ? attributeOf(entity, config.attribute) : entity.state;
  return {
    result: sameJson(value, config.state),
    detail: `${config.entity}${config.attribute ? '.' + config.attribute : ''} is ${JSON.stringify(value)}`,
  };
};
