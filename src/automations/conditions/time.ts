// time condition: now is within a window of the day (which may wrap midnight) and on given weekdays.
import type { ConditionConfig } from '../schema.js';
import type { ConditionCheck } from '../types.js';
import { realClock } from '../../clock.js';

type Config = Extract<ConditionConfig, { type: 'time' }>;

/** Seconds since midnight and weekday of `now` in `timezone`. */
export function clockOf(now: Date, timezone?: string): { seconds: number; weekday: string } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    weekday: 'short',
  }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '0';
  return {
    seconds: Number(get('hour')) * 3600 + Number(get('minute')) * 60 + Number(get('second')),
    weekday: get('weekday').toLowerCase().slice(0, 3),
  };
}

const toSeconds = (hhmm: string) => hhmm.split(':').reduce((acc, v, i) => acc + Number(v) * [3600, 60, 1][i]!, 0);

export function inWindow(seconds: number, after?: string, before?: string): boolean {
  const a = after === undefined ? 0 : toSeconds(after);
  const b = before === undefined ? 86400 : toSeconds(before);
  return a <= b ? seconds >= a && seconds < b : seconds >= a || seconds < b; // wraps midnight
}

export const timeCondition: ConditionCheck<Config> = async (config, ctx) => {
  const { seconds, weekday } = clockOf(new Date((ctx.clock ?? realClock).now()), config.timezone);
  const dayOk = !config.weekdays || config.weekdays.includes(weekday as never);
  const result = dayOk && inWindow(seconds, config.after, config.before);
  return { result, detail: `it is ${weekday} ${new Date(seconds * 1000).toISOString().slice(11, 19)}` };
};
