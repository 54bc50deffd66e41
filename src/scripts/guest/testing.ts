// The test API of `smart-home test`, inside the test file's sandbox: test(), expect(), home and
// clock. Bundled on its own (dist/src/scripts/guest/test.bundle.js, scripts/build-guest.mjs) and
// installed only into a test's sandbox, after the prelude, through the prelude's hooks. The host
// (src/simulate/test-api.ts) checks every argument again.
import type { GuestHooks } from './wire.js';

interface Registered {
  name: string;
  fn: () => unknown;
}

/** A failed expectation: its message names the matcher, what was expected and what came. */
class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return '[function]';
  if (typeof v === 'bigint') return `${String(v)}n`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 400 ? `${s.slice(0, 400)}…` : s;
  } catch {
    return String(v);
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** `expected` is a subset of `actual` (objects: its keys; arrays: element by element). */
function matches(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null) return equal(actual, expected);
  if (typeof actual !== 'object' || actual === null) return false;
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e))
    );
  return Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v));
}

type Check = (received: unknown, ...args: unknown[]) => { pass: boolean; expected: string };

const CHECKS: Record<string, Check> = {
  toBe: (r, e) => ({ pass: Object.is(r, e), expected: show(e) }),
  toEqual: (r, e) => ({ pass: equal(r, e), expected: show(e) }),
  toMatchObject: (r, e) => ({ pass: matches(r, e), expected: `an object with ${show(e)}` }),
  toBeTruthy: (r) => ({ pass: !!r, expected: 'a truthy value' }),
  toBeFalsy: (r) => ({ pass: !r, expected: 'a falsy value' }),
  toBeUndefined: (r) => ({ pass: r === undefined, expected: 'undefined' }),
  toBeNull: (r) => ({ pass: r === null, expected: 'null' }),
  toBeGreaterThan: (r, n) => ({ pass: typeof r === 'number' && r > Number(n), expected: `more than ${show(n)}` }),
  toBeLessThan: (r, n) => ({ pass: typeof r === 'number' && r < Number(n), expected: `less than ${show(n)}` }),
  toHaveLength: (r, n) => ({
    pass: (typeof r === 'string' || Array.isArray(r)) && r.length === n,
    expected: `length ${show(n)}`,
  }),
  toContain: (r, e) => ({
    pass: (Array.isArray(r) && r.some((x) => equal(x, e))) || (typeof r === 'string' && r.includes(String(e))),
    expected: `something containing ${show(e)}`,
  }),
  toMatch: (r, re) => ({
    pass: typeof r === 'string' && (re instanceof RegExp ? re.test(r) : r.includes(String(re))),
    expected: `a string matching ${re instanceof RegExp ? String(re) : show(re)}`,
  }),
};

function matchers(received: unknown, negated: boolean): Record<string, (...a: unknown[]) => void> {
  const out: Record<string, (...a: unknown[]) => void> = {};
  for (const [name, check] of Object.entries(CHECKS)) {
    out[name] = (...args: unknown[]) => {
      const { pass, expected } = check(received, ...args);
      if (pass !== negated) return;
      throw new AssertionError(
        `expect(received).${negated ? 'not.' : ''}${name}(${args.length ? 'expected' : ''})\n  expected: ${negated ? 'not ' : ''}${expected}\n  received: ${show(received)}`,
      );
    };
  }
  return out;
}

function expect(received: unknown) {
  return Object.freeze({ ...matchers(received, false), not: Object.freeze(matchers(received, true)) });
}

export function install(hooks: GuestHooks, global: Record<string, unknown>): void {
  const { call, callAsync } = hooks;
  const tests: Registered[] = [];
  const define = (name: string, value: unknown) =>
    Object.defineProperty(global, name, { value, writable: false, enumerable: false, configurable: false });
  const test = (name: unknown, fn: unknown) => {
    if (typeof name !== 'string' || name === '') throw new TypeError('test(name, fn): the name must be a text');
    if (typeof fn !== 'function') throw new TypeError(`test(${show(name)}, fn): fn must be a function`);
    if (tests.some((t) => t.name === name)) throw new TypeError(`test ${show(name)} is defined twice`);
    tests.push({ name, fn: fn as () => unknown });
  };
  define('test', test);
  define('it', test);
  define('expect', expect);
  define('AssertionError', AssertionError);
  define(
    'home',
    Object.freeze({
      device: (id: unknown, spec?: unknown) => call('home.device', id, spec ?? {}),
      state: (id: unknown) => call('home.state', id),
      entity: (id: unknown) => call('home.entity', id),
      published: (topic: unknown) => call('home.published', topic),
      messages: (filter?: unknown) => call('home.messages', filter ?? '#'),
      actions: (id?: unknown) => call('home.actions', id ?? null),
      logs: (script?: unknown) => call('home.logs', script ?? null),
      notifications: (target?: unknown) => call('home.notifications', target ?? null),
      clear: () => call('home.clear'),
      publish: (topic: unknown, payload: unknown, opts?: unknown) =>
        callAsync('home.publish', 'home.publish', [
          topic,
          typeof payload === 'string' ? payload : JSON.stringify(payload),
          opts ?? {},
        ]),
      set: (id: unknown, state: unknown, attributes?: unknown) =>
        callAsync('home.set', 'home.set', [id, state, attributes ?? null]),
      call: (id: unknown, action: unknown, params?: unknown) =>
        callAsync('home.call', 'home.call', [id, action, params ?? {}]),
      run: (automation: unknown) => callAsync('home.run', 'home.run', [automation]),
      settle: () => callAsync('home.settle', 'home.settle', []),
    }),
  );
  define(
    'clock',
    Object.freeze({
      now: () => call('clock.now') as number,
      advance: (by: unknown) => callAsync('clock.advance', 'clock.advance', [by]),
      set: (to: unknown) => callAsync('clock.set', 'clock.set', [to instanceof Date ? to.getTime() : to]),
    }),
  );
  define('__smartHomeTests', () => tests.map((t) => t.name));
  define('__smartHomeRunTest', (i: number) => {
    const t = tests[i];
    if (!t) throw new TypeError(`no test ${i}`);
    // in a job of its own: a host invoke waits for the calls made while it runs, and would fail on
    // one the test awaited and caught (home.call of an action meant to fail)
    return Promise.resolve().then(() => t.fn());
  });
}
