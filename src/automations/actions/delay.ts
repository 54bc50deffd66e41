// action step: wait (cancelled when the run is, e.g. in restart mode).
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';

type Config = Extract<ActionConfig, { type: 'delay' }>;

export const delayAction: ActionStep<Config> = (config, _ctx, _trigger, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Error('cancelled'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, config.for);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
