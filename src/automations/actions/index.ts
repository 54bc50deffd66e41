// The one list of action types.
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';
import { entityAction } from './entity.js';
import { publishAction } from './publish.js';
import { scriptAction } from './script.js';
import { delayAction } from './delay.js';
import { notifyAction } from './notify.js';
import { waitForAction } from './wait-for.js';

export const actions: { [K in ActionConfig['type']]: ActionStep<Extract<ActionConfig, { type: K }>> } = {
  action: entityAction,
  publish: publishAction,
  script: scriptAction,
  delay: delayAction,
  notify: notifyAction,
  wait_for: waitForAction,
};
