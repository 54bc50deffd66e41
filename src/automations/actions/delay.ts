// action step: wait, kept across a restart (src/automations/waits.ts): after one the run goes on
// at the original deadline. Cancelled when the run is (e.g. in restart mode).
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';
import { realClock } from '../../clock.js';
import { persistedWait } from '../waits.js';

type Config = Extract<ActionConfig, { type: 'delay' }>;

export const delayAction: ActionStep<Config> = async (config, ctx, _trigger, signal, _label, run) => {
  const deadline = run?.resumed?.deadline ?? (ctx.clock ?? realClock).now() + config.for;
  await persistedWait(ctx, run, 'delay', deadline, signal);
};
