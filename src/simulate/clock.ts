// The virtual clock of the simulated home (smart-home test): time stands still until a test moves
// it. Moving it fires each timer due on the way in time order and lets the home settle after
// each, so a delay that starts a second delay inside the window ends inside it too.
import type { Clock } from '../clock.js';

/** More timers than this in one move is a loop (a setInterval of 0 ms advanced over a day). */
const MAX_FIRES = 200_000;

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, Number.isFinite(ms) ? ms : 0), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers waiting, for a test's report. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves the time to `until` (never back): each timer due by then fires at its own time, oldest
   * first (two at the same time in the order they were set), and `settle` runs after each one.
   * Returns how many fired.
   */
  async advanceTo(until: number, settle: () => Promise<void>): Promise<number> {
    if (!Number.isFinite(until)) throw new RangeError('clock: the time to move to is not a number');
    let fired = 0;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      if (++fired > MAX_FIRES)
        throw new RangeError(
          `clock: more than ${MAX_FIRES} timers fired in one move (a timer that sets itself again at once?)`,
        );
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await settle();
    }
    this.t = Math.max(this.t, until);
    return fired;
  }
}
