// Named timers for scripts (Timer.at / Timer.in / Timer.cancel / Timer.list / Timer.on): kept in
// SQLite (src/store/script-timers.ts), so one set before a restart or a kill -9 fires after it; one
// due while the hub was down fires once the script has called Timer.on again, with how late it is.
// Everything a script passes is checked here: the name, the time, the data's size, the count.
import { parseDuration } from '../../automations/duration.js';
import type { Clock } from '../../clock.js';
import type { ScriptTimerStore } from '../../store/script-timers.js';

export const MAX_TIMERS_PER_SCRIPT = 1000;
const MAX_TIMER = 2 ** 31 - 1;
/** The furthest a timer may be set: ten years. */
const MAX_AHEAD = 10 * 365 * 86_400_000;

/** Delivers one due timer to the script (its Timer.on handler); resolves when the handler is done. */
export type DeliverTimer = (
  script: string,
  t: { name: string; data: unknown; due: string; late_ms: number },
) => Promise<void>;

export class NamedTimers {
  /** Scripts whose handler is in (Timer.on), with the Node timer for their next due one. */
  private readonly listening = new Map<string, { handle?: unknown; busy: boolean }>();

  constructor(
    private readonly store: ScriptTimerStore,
    private readonly clock: Clock,
    private readonly deliver: DeliverTimer,
    private readonly maxDataBytes: number,
  ) {}

  calls(script: string) {
    const name = (v: unknown, fn: string): string => {
      if (typeof v !== 'string' || v === '' || v.length > 200)
        throw new TypeError(
          `${fn}: the name must be a string of 1 to 200 characters, got ${typeof v === 'string' ? `${v.length} characters` : typeof v}`,
        );
      return v;
    };
    const set = (fn: string, n: unknown, due: number, data: unknown) => {
      const key = name(n, fn);
      const now = this.clock.now();
      if (!Number.isFinite(due)) throw new TypeError(`${fn}: the time is not a time`);
      if (due - now > MAX_AHEAD) throw new RangeError(`${fn}: ${key} is more than ten years ahead`);
      const json = JSON.stringify(data === undefined ? null : data);
      if (json === undefined || Buffer.byteLength(json) > this.maxDataBytes)
        throw new RangeError(
          `${fn}: the data of ${key} is over ${Math.round(this.maxDataBytes / 1024)} KiB (or not JSON)`,
        );
      if (!this.store.has(script, key) && this.store.count(script) >= MAX_TIMERS_PER_SCRIPT)
        throw new RangeError(
          `${fn}: this script has ${MAX_TIMERS_PER_SCRIPT} timers already; cancel some (Timer.cancel)`,
        );
      this.store.set(script, key, due, json);
      this.reschedule(script);
      return new Date(due).toISOString();
    };
    return {
      'timer.at': ([n, when, data]: unknown[]) => {
        const due = typeof when === 'number' ? when : typeof when === 'string' ? Date.parse(when) : Number.NaN;
        if (!Number.isFinite(due))
          throw new TypeError(
            'Timer.at: when must be a Date, an ISO time like "2026-12-24T18:00:00Z" or milliseconds since 1970',
          );
        return set('Timer.at', n, due, data);
      },
      'timer.in': ([n, delay, data]: unknown[]) => {
        const ms =
          typeof delay === 'number' && delay >= 0
            ? delay
            : typeof delay === 'string'
              ? parseDuration(delay)
              : undefined;
        if (ms === undefined || !Number.isFinite(ms))
          throw new TypeError(
            'Timer.in: the delay must be milliseconds (a number ≥ 0) or a duration like "10m" or "1h30m"',
          );
        return set('Timer.in', n, this.clock.now() + ms, data);
      },
      'timer.cancel': ([n]: unknown[]) => {
        const gone = this.store.remove(script, name(n, 'Timer.cancel'));
        if (gone) this.reschedule(script);
        return gone;
      },
      'timer.list': () =>
        this.store
          .of(script)
          .map((r) => ({ name: r.name, due: new Date(r.due).toISOString(), data: JSON.parse(r.data) })),
      'timer.on': () => {
        if (!this.listening.has(script)) this.listening.set(script, { busy: false });
        this.reschedule(script);
        return undefined;
      },
    };
  }

  /** The script stopped (or was reloaded): its timers stay stored, and wait for its next Timer.on. */
  release(script: string): void {
    const l = this.listening.get(script);
    if (l) this.clock.clearTimeout(l.handle);
    this.listening.delete(script);
  }

  private reschedule(script: string): void {
    const l = this.listening.get(script);
    if (!l || l.busy) return;
    this.clock.clearTimeout(l.handle);
    const next = this.store.of(script)[0];
    if (!next) return;
    const left = next.due - this.clock.now();
    // one due already (set in the past, or due while the hub was down) goes at once, not on the clock's next tick
    if (left <= 0) {
      setImmediate(() => void this.fire(script));
      return;
    }
    l.handle = this.clock.setTimeout(() => void this.fire(script), Math.min(left, MAX_TIMER));
  }

  /** Hands the due timers to the script one at a time, in order; each is deleted as it is handed over. */
  private async fire(script: string): Promise<void> {
    const l = this.listening.get(script);
    if (!l || l.busy) return;
    l.busy = true;
    try {
      for (;;) {
        const now = this.clock.now();
        const row = this.store.of(script)[0];
        if (!row || row.due > now || this.listening.get(script) !== l) break;
        this.store.remove(script, row.name);
        await this.deliver(script, {
          name: row.name,
          data: JSON.parse(row.data),
          due: new Date(row.due).toISOString(),
          late_ms: Math.max(0, now - row.due),
        });
      }
    } finally {
      l.busy = false;
      if (this.listening.get(script) === l) this.reschedule(script);
    }
  }
}
