// Fair share of the CPU between scripts (issue 14, break 5: five setInterval callbacks, each under
// cpu_limit_ms, kept /healthz waiting 8-12 s and stopped every other script's timers, silently).
// Two rules: a script may use `cpu_share` of one core averaged over `cpu_window_s` (past it, its
// timers and messages wait until its average is back under the share: throttled, logged,
// counted), and after any long entry into a sandbox, further timer callbacks wait for the next
// turn of the event loop, so I/O (requests, MQTT) is served between two long callbacks.
import { performance } from 'node:perf_hooks';

export interface CpuLimits {
  cpu_share: number;
  cpu_window_s: number;
  cpu_stop_after_windows: number;
}

/** An entry longer than this makes later timer callbacks wait in the turn queue. */
const LONG_ENTRY_MS = 20;
let longEntryThisTurn = false;
/** Timer callbacks waiting for their turn, first come first served (across all scripts). */
const turnQueue: (() => void)[] = [];
let draining = false;

/**
 * Should a timer callback wait its turn? Yes after a long entry in this turn of the event loop,
 * or while others already wait (so a light script is never overtaken forever by a heavy one).
 */
export function mustWaitTurn(): boolean {
  return longEntryThisTurn || turnQueue.length > 0;
}

/** Queues `fn` to run in a later turn, after I/O has been served; FIFO across scripts. */
export function waitTurn(fn: () => void): void {
  turnQueue.push(fn);
  scheduleDrain();
}

function scheduleDrain(): void {
  if (draining) return;
  draining = true;
  setImmediate(drain);
}

/** One slice per turn: the first waiting callback always runs, more only while the slice lasts. */
function drain(): void {
  draining = false;
  longEntryThisTurn = false;
  const start = performance.now();
  let first = true;
  while (turnQueue.length > 0 && (first || (!longEntryThisTurn && performance.now() - start < LONG_ENTRY_MS))) {
    first = false;
    turnQueue.shift()!();
  }
  if (turnQueue.length > 0 || longEntryThisTurn) scheduleDrain();
}

function markLongEntry(): void {
  longEntryThisTurn = true;
  scheduleDrain(); // its start clears the mark: the next turn
}

export class CpuBudget {
  private windowStart = performance.now();
  private used = 0;
  private previous = 0;
  /** Windows in a row in which the script was throttled. */
  private throttledWindows = 0;
  private throttledInWindow = false;

  constructor(
    private readonly limits: CpuLimits,
    private readonly onThrottle: (usedMs: number, windows: number) => void,
  ) {}

  private get windowMs(): number {
    return this.limits.cpu_window_s * 1000;
  }
  private get budgetMs(): number {
    return this.limits.cpu_share * this.windowMs;
  }

  /** Adds the time of one entry into the guest. */
  spent(ms: number): void {
    this.roll();
    this.used += ms;
    if (ms > LONG_ENTRY_MS) markLongEntry();
  }

  /** CPU used over the last window (the current one plus the part of the previous one it overlaps). */
  private estimate(now = performance.now()): number {
    return this.used + this.previous * Math.max(0, 1 - (now - this.windowStart) / this.windowMs);
  }

  private roll(now = performance.now()): void {
    while (now - this.windowStart >= this.windowMs) {
      this.throttledWindows = this.throttledInWindow ? this.throttledWindows + 1 : 0;
      this.throttledInWindow = false;
      this.previous = this.used;
      this.used = 0;
      this.windowStart += this.windowMs;
      if (now - this.windowStart >= this.windowMs) {
        this.previous = 0;
        this.windowStart = now;
      }
    }
  }

  /** Milliseconds the script must wait before it may run again (0: now). Reports the throttle once per window. */
  waitMs(): number {
    const now = performance.now();
    this.roll(now);
    const over = this.estimate(now) - this.budgetMs;
    if (over <= 0) return 0;
    if (!this.throttledInWindow) {
      this.throttledInWindow = true;
      this.onThrottle(this.estimate(now), this.throttledWindows + 1);
    }
    // the previous window's share fades linearly: wait until enough of it has
    return Math.max(
      10,
      Math.min(
        this.windowMs,
        this.previous > 0 ? (over / this.previous) * this.windowMs : this.windowMs - (now - this.windowStart),
      ),
    );
  }

  /** Throttled in cpu_stop_after_windows windows in a row: the script should be stopped. */
  get exhausted(): boolean {
    return this.throttledWindows + (this.throttledInWindow ? 1 : 0) >= this.limits.cpu_stop_after_windows;
  }
}
