// Waits that outlive the process: a run in a `delay` or `wait_for` writes a row (src/store/waits.ts)
// when the wait begins and deletes it when the wait ends or is cancelled; a hub that stops keeps
// it (the abort reason says so), and a kill -9 leaves it. At the next start the automation's
// runner resumes the run at that action, at its original deadline (src/automations/runner.ts).
import type { WaitRow } from '../store/waits.js';
import { realClock, sleepUntil } from '../clock.js';
import type { AutomationContext, TriggerEvent } from './types.js';

/** Why a run was cancelled; a shutdown keeps its waits for the next start. */
export class Cancelled extends Error {
  constructor(readonly why: 'shutdown' | 'stopped' | 'restart mode') {
    super(`cancelled (${why})`);
  }
}

export const isShutdown = (signal: AbortSignal) =>
  signal.reason instanceof Cancelled && signal.reason.why === 'shutdown';

/** Where a run is, for the steps that wait. */
export interface RunInfo {
  automation: string;
  /** `actions[2]`. */
  step: string;
  /** When the run began (with the step, the wait's key). */
  started: number;
  event: TriggerEvent;
  /** The wait this step had before a restart: go on to its deadline. */
  resumed?: WaitRow;
  /** What the step tells its trace ("waited 3 s for light.hall to be "on""). */
  detail?: string;
}

/**
 * Waits until `deadline` or until `watch` calls its `done` (e.g. a state reached), with the wait
 * stored meanwhile. Resolves `'timeout'` or what `done` was given; rejects when the run is
 * cancelled.
 */
export async function persistedWait<T>(
  ctx: AutomationContext,
  run: RunInfo | undefined,
  kind: 'delay' | 'wait_for',
  deadline: number,
  signal: AbortSignal,
  watch?: (done: (v: T) => void) => () => void,
): Promise<T | 'timeout'> {
  const clock = ctx.clock ?? realClock;
  const id =
    run?.resumed?.id ??
    (run && ctx.waits
      ? ctx.waits.add({
          automation: run.automation,
          kind,
          step: run.step,
          event: JSON.stringify(run.event),
          started: run.started,
          deadline,
        })
      : undefined);
  const local = new AbortController();
  const onAbort = () => local.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  let stopWatching: (() => void) | undefined;
  if (ctx.sleeping) ctx.sleeping.n++;
  try {
    return await new Promise<T | 'timeout'>((resolve, reject) => {
      stopWatching = watch?.((v) => {
        local.abort('done');
        resolve(v);
      });
      sleepUntil(clock, deadline, local.signal).then(
        () => resolve('timeout'),
        (err) => (local.signal.reason === 'done' ? undefined : reject(err)),
      );
    });
  } finally {
    if (ctx.sleeping) ctx.sleeping.n--;
    stopWatching?.();
    signal.removeEventListener('abort', onAbort);
    if (!local.signal.aborted) local.abort('done');
    if (id !== undefined && !isShutdown(signal)) ctx.waits?.remove(id);
  }
}
