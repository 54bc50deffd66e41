// The one list of trigger types.
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';
import { mqttTrigger } from './mqtt.js';
import { timeTrigger } from './time.js';
import { intervalTrigger } from './interval.js';
import { stateTrigger } from './state.js';
import { systemTrigger } from './system.js';
import { sunTrigger } from './sun.js';

export const triggers: { [K in TriggerConfig['type']]: TriggerFactory<Extract<TriggerConfig, { type: K }>> } = {
  mqtt: mqttTrigger,
  time: timeTrigger,
  interval: intervalTrigger,
  state: stateTrigger,
  system: systemTrigger,
  sun: sunTrigger,
};
