// The script API as it lives inside the sandbox, evaluated in each QuickJS context before the
// user's code. `scripts/build-guest.mjs` type-checks and bundles these files with esbuild at build
// time; the host evaluates the bundle and calls `install` with its host functions. The host
// validates everything again: this code runs in user space and may be tampered with.
import { bind, call, callAsync, callStack, MqttError, settle } from './core.js';
import { Entity, Storage } from './entity.js';
import { compat, sharedStorage } from './compat.js';
import { delivery, Mqtt } from './mqtt.js';
import { Http, http } from './http.js';
import { Notify, notifr, template } from './notify.js';
import { fireNamedTimer, Timer } from './timer.js';
import { addTimer, adopt, clearTimer, console, fireTimer, invocation, invoke, invokeBatch } from './runtime.js';
import type { GuestApi, HostApi } from './wire.js';

export function install(host: HostApi, global: Record<string, unknown>): GuestApi {
  bind(host);
  const define = (name: string, value: unknown) =>
    Object.defineProperty(global, name, { value, writable: false, enumerable: false, configurable: false });
  define('Mqtt', Mqtt);
  define('Entity', Entity);
  define('http', http);
  define('Http', Http);
  define('Notify', Notify);
  define('Timer', Timer);
  define('__smartHomeTimer', fireNamedTimer);
  define('notifr', notifr);
  define('template', template);
  // ours (get/set/delete/keys, the script's own) and e154's (push/getByName/search/pop, shared)
  define('Storage', Object.freeze({ ...Storage, ...sharedStorage }));
  for (const [name, fn] of Object.entries(compat)) define(name, fn);
  define('MqttError', MqttError);
  define('console', console);
  define('setTimeout', (fn: unknown, ms: unknown, ...args: unknown[]) => addTimer(fn, ms, args, false));
  define('setInterval', (fn: unknown, ms: unknown, ...args: unknown[]) => addTimer(fn, ms, args, true));
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  // e154's scripts that others require(name) set module.exports; running on their own (a script at
  // the top of the scripts dir runs), what they export goes nowhere instead of failing. Plain
  // (configurable) properties, so that a script's own `const module = ...` still declares.
  global.module = { exports: {} };
  global.exports = (global.module as { exports: unknown }).exports;
  if (host.virtualTime === 1) global.Date = virtualDate(() => call('clock.now') as number);
  return {
    fireTimer,
    settle,
    deliver: delivery.deliver,
    get at() {
      return delivery.at;
    },
    adopt,
    invoke: (name, argsJson, callId) => invoke(global, name, argsJson, callId),
    invokeBatch: (name, callsJson) => invokeBatch(global, name, callsJson),
    get invokeAt() {
      return invocation.at;
    },
    hooks: Object.freeze({ call, callAsync, stack: callStack }),
  };
}

/**
 * Date on a test's clock (smart-home test): `new Date()`, `Date()` (the time as text) and
 * `Date.now()` read the host's virtual time; everything else is the real Date's. A function, not a
 * class: a class cannot be called without `new`, and JavaScript's Date can.
 */
function virtualDate(now: () => number): DateConstructor {
  const Real = Date;
  function VirtualDate(this: unknown, ...args: unknown[]): unknown {
    if (!new.target) return new Real(now()).toString();
    return Reflect.construct(Real, args.length === 0 ? [now()] : args, new.target);
  }
  VirtualDate.prototype = Real.prototype;
  // this sandbox's own Date (a test's): its dates say VirtualDate is what made them, as Date is
  Object.defineProperty(Real.prototype, 'constructor', { value: VirtualDate, writable: true, configurable: true });
  VirtualDate.now = now;
  VirtualDate.parse = Real.parse;
  VirtualDate.UTC = Real.UTC;
  return VirtualDate as unknown as DateConstructor;
}
