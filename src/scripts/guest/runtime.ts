// console, timers and host invocations: the parts of a script's runtime that are not bindings.
import { describe, host, now, track } from './core.js';

function format(args: unknown[]): string {
  return args
    .map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return `${a.name || 'Error'}: ${a.message}`;
      if (a === undefined || typeof a === 'function' || typeof a === 'symbol' || typeof a === 'bigint')
        return String(a);
      try {
        return JSON.stringify(a);
      } catch {
        return String(a);
      }
    })
    .join(' ');
}

export const console = Object.freeze({
  log: (...a: unknown[]) => host.log('info', format(a)),
  info: (...a: unknown[]) => host.log('info', format(a)),
  debug: (...a: unknown[]) => host.log('debug', format(a)),
  warn: (...a: unknown[]) => host.log('warn', format(a)),
  error: (...a: unknown[]) => host.log('error', format(a)),
});

// Timers: the host keeps time; callbacks live here, keyed by id.
interface Timer {
  fn: (...args: unknown[]) => unknown;
  args: unknown[];
  repeat: boolean;
}
const timers = new Map<number, Timer>();
let nextTimer = 1;

export function addTimer(fn: unknown, ms: unknown, args: unknown[], repeat: boolean): number {
  if (typeof fn !== 'function')
    throw new TypeError(
      `${repeat ? 'setInterval' : 'setTimeout'}: the callback must be a function, got ${describe(fn)}`,
    );
  const id = nextTimer++;
  host.setTimer(id, Math.max(0, Number(ms) || 0), repeat);
  timers.set(id, { fn: fn as Timer['fn'], args, repeat });
  return id;
}

export function clearTimer(id: unknown): void {
  if (timers.delete(id as number)) host.clearTimer(id as number);
}

export function fireTimer(id: number): void {
  const t = timers.get(id);
  if (!t) return;
  if (!t.repeat) timers.delete(id);
  t.fn.apply(undefined, t.args);
}

/**
 * Functions the host looked up by name after the top level ran (`adopt`): a `const`/`let`
 * declaration at the top level is a global binding that is not a property of the global object,
 * so `global[name]` misses it (e154's own examples write `const entityAction = (...) => ...`).
 */
const adopted = new Map<string, unknown>();

export function adopt(found: unknown): void {
  if (!found || typeof found !== 'object') return;
  for (const [name, fn] of Object.entries(found as Record<string, unknown>))
    if (typeof fn === 'function') adopted.set(name, fn);
}

function lookup(global: Record<string, unknown>, name: string): unknown {
  const own = global[name];
  return typeof own === 'function' ? own : adopted.get(name);
}

/**
 * A call from the host (entity action, automation step): completes when the function's result and
 * the publishes it started before returning are complete. Returns the JSON of {value} when it
 * completed at once; otherwise the outcome arrives through host.invokeDone.
 */
export function invoke(
  global: Record<string, unknown>,
  name: string,
  argsJson: string,
  callId: number,
): string | undefined {
  const fn = lookup(global, name);
  if (typeof fn !== 'function') throw new TypeError(`${name} is not a function`);
  return start(fn as (...a: unknown[]) => unknown, JSON.parse(argsJson) as unknown[], callId, true);
}

/** Runs one call; its outcome goes to host.invokeDone, or (`immediate`) is returned when it completed at once. */
function start(
  fn: (...a: unknown[]) => unknown,
  args: unknown[],
  callId: number,
  immediate: boolean,
): string | undefined {
  const mine: Promise<unknown>[] = [];
  const outer = track(mine);
  let result: unknown;
  try {
    result = fn.apply(undefined, args);
  } finally {
    track(outer);
  }
  const thenable = !!result && typeof (result as PromiseLike<unknown>).then === 'function';
  if (mine.length === 0 && !thenable) {
    const json = JSON.stringify({ value: result });
    if (immediate) return json;
    host.invokeDone(callId, true, json);
    return undefined;
  }
  Promise.all([result, ...mine]).then(
    (all) => host.invokeDone(callId, true, JSON.stringify({ value: all[0] })),
    (e: unknown) => failed(callId, e),
  );
  return undefined;
}

function failed(callId: number, e: unknown): void {
  const err = e instanceof Error ? e : new Error(`uncaught value: ${String(e)}`);
  host.invokeDone(callId, false, err.name || 'Error', String(err.message), String(err.stack || ''));
}

export const invocation = { at: 0 };

/** Several calls of one function in one entry (automation runs of one step that came together). */
export function invokeBatch(global: Record<string, unknown>, name: string, callsJson: string): number {
  invocation.at = 0;
  const calls = JSON.parse(callsJson) as [number, unknown[]][];
  const fn = lookup(global, name);
  const began = now();
  for (let i = 0; i < calls.length; i++) {
    if (i > 0 && now() - began >= host.batchSliceMs) return i;
    invocation.at = i;
    const [callId, args] = calls[i]!;
    if (typeof fn !== 'function') {
      failed(callId, new TypeError(`${name} is not a function`));
      continue;
    }
    try {
      start(fn as (...a: unknown[]) => unknown, args, callId, false);
    } catch (e) {
      failed(callId, e);
    }
  }
  return calls.length;
}
