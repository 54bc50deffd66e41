// Named timers that outlive the hub (Timer.at/in/cancel/list/on): the host stores and keeps the
// time; this side only holds the script's handler. Plain setTimeout stays in memory.
import { call, describe } from './core.js';

export interface NamedTimer {
  name: string;
  data: unknown;
  due: string;
  late_ms: number;
}

let handler: ((t: NamedTimer) => unknown) | undefined;

/** Called by the host for each due timer (a global of its own, not enumerable). */
export function fireNamedTimer(t: NamedTimer): unknown {
  if (!handler) throw new TypeError(`timer ${t.name} is due but Timer.on(handler) was not called`);
  return handler(t);
}

export const Timer = Object.freeze({
  at: (name: unknown, when: unknown, data?: unknown) =>
    call('timer.at', name, when instanceof Date ? when.getTime() : when, data === undefined ? null : data) as string,
  in: (name: unknown, delay: unknown, data?: unknown) =>
    call('timer.in', name, delay, data === undefined ? null : data) as string,
  cancel: (name: unknown) => call('timer.cancel', name) as boolean,
  list: () => call('timer.list') as { name: string; due: string; data: unknown }[],
  on: (fn: unknown) => {
    if (typeof fn !== 'function')
      throw new TypeError(`Timer.on: expects a function (timer) => ..., got ${describe(fn)}`);
    handler = fn as (t: NamedTimer) => unknown;
    call('timer.on');
  },
});
