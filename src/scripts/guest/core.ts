// Shared by every binding: the captured host object, argument descriptions for error messages,
// the call stack the host locates the user's line in, and the pending map of publishes and async
// host calls that the host settles in batches (one call per tick).
import type { HostApi, SettleFailure } from './wire.js';

export let host: HostApi;
/** Captured at install, before user code runs: a script that replaces Date.now cannot stretch a batch. */
export let now: () => number = Date.now;

export function bind(h: HostApi): void {
  host = h;
  now = Date.now;
}

/** The stack of the current call, for the host to find the user's line in (parsing it there is cheaper). */
export function callStack(): string {
  return String(new Error().stack || '');
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

export class MqttError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'MqttError';
    this.code = code;
  }
}

/** A promise that knows whether anyone is waiting for it, so a failure nobody handles is logged. */
export class PublishPromise<T> extends Promise<T> {
  declare handled: boolean;
  // an explicit constructor and no field initializer: QuickJS runs `super(...arguments)` and
  // defined fields slowly, and one of these is made per publish
  constructor(executor: (resolve: (v: T) => void, reject: (e: unknown) => void) => void) {
    super(executor);
  }
  static override get [Symbol.species]() {
    return Promise;
  }
  override then<A = T, B = never>(
    onOk?: ((v: T) => A | PromiseLike<A>) | null,
    onErr?: ((e: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.handled = true;
    return super.then(onOk, onErr);
  }
}

PublishPromise.prototype.handled = false;

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  stack: string;
  promise: PublishPromise<unknown>;
  size: number;
  what?: string;
}

/** Publishes and async host calls in flight, by id. */
export const pending = new Map<number, Pending>();
let nextId = 1;
export let pendingBytes = 0;

/** Promises started during a host `invoke` (it completes when they do); null outside one. */
export let tracked: Promise<unknown>[] | null = null;
export function track(list: Promise<unknown>[] | null): Promise<unknown>[] | null {
  const outer = tracked;
  tracked = list;
  return outer;
}

/** A new pending entry: its id and promise. */
export function newPending(
  stack: string,
  size: number,
  what?: string,
): { id: number; promise: PublishPromise<unknown> } {
  const id = nextId++;
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new PublishPromise<unknown>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  pending.set(id, { resolve, reject, stack, promise, size, what });
  pendingBytes += size;
  if (tracked) tracked.push(promise);
  return { id, promise };
}

/** The pending entry with this id, removed (and its bytes no longer counted). */
function take(id: number): Pending | undefined {
  const p = pending.get(id);
  if (p) {
    pending.delete(id);
    pendingBytes -= p.size;
  }
  return p;
}

const ERRORS: Record<string, ErrorConstructor> = { RangeError, TypeError };

export function settle(ok: string, failed: string, values: string): void {
  if (values) for (const [id, value] of JSON.parse(values) as [number, unknown][]) take(id)?.resolve(value);
  if (ok) for (const id of ok.split(',')) take(+id)?.resolve(undefined);
  if (!failed) return;
  for (const [id, code, message, name] of JSON.parse(failed) as SettleFailure[]) {
    const p = take(id);
    if (!p) continue;
    let err: Error & { code?: string };
    const known = name ? ERRORS[name] : undefined;
    if (known) err = new known(message);
    else if (name && name !== 'MqttError') {
      err = new Error(message);
      err.name = name;
    } else err = new MqttError(code, message);
    err.code = code;
    // where the script made the call: an error it does not catch is located at that line
    if (p.stack) err.stack = p.stack;
    p.reject(err);
    const promise = p.promise;
    // Look again once the current jobs have run: an await or .catch attached by then counts.
    Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => {
        if (!promise.handled) host.unhandled(`${p.what || 'Mqtt.publish'}: ${code}: ${message}`, p.stack);
      });
  }
}

/** A synchronous host call with JSON arguments and result. */
export function call(name: string, ...args: unknown[]): unknown {
  const out = host.call(name, JSON.stringify(args));
  return out === undefined ? undefined : JSON.parse(out);
}

/** An asynchronous host call: a promise settled through the same batches as publishes. */
export function callAsync(what: string, name: string, args: unknown[]): PublishPromise<unknown> {
  const { id, promise } = newPending(callStack(), 0, what);
  host.callAsync(id, name, JSON.stringify(args));
  return promise;
}

export function reportError(e: unknown): void {
  if (e instanceof Error) host.uncaught(e.name || 'Error', e.message, String(e.stack || ''));
  else host.uncaught('Error', `uncaught value: ${String(e)}`, '');
}
