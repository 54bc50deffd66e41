// The time the hub's waits wait on: the real one, or one a test moves (test/helpers.ts fakeClock,
// the simulated home of `smart-home test`). Automations (schedules, delays, `for:`, wait_for, the
// catch-up, time and sun conditions), named timers and scripts' own timers go through it; the
// rest of the hub (CPU fairness, timeouts of I/O) keeps the real time.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer wait is taken in steps. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * Resolves when the clock reaches `deadline` (at once when it has); rejects with the signal's
 * reason when it aborts first.
 */
export function sleepUntil(clock: Clock, deadline: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    let handle: unknown;
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal.reason);
    };
    const step = () => {
      const left = deadline - clock.now();
      if (left <= 0) {
        signal.removeEventListener('abort', onAbort);
        return resolve();
      }
      handle = clock.setTimeout(step, Math.min(left, MAX_TIMER));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    step();
  });
}
