// The one list of condition types.
import type { ConditionConfig } from '../schema.js';
import type { ConditionCheck } from '../types.js';
import { stateCondition } from './state.js';
import { timeCondition } from './time.js';
import { scriptCondition } from './script.js';
import { sunCondition } from './sun.js';

export const conditions: { [K in ConditionConfig['type']]: ConditionCheck<Extract<ConditionConfig, { type: K }>> } = {
  state: stateCondition,
  time: timeCondition,
  script: scriptCondition,
  sun: sunCondition,
};
