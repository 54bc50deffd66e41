// The only module that touches a script's QuickJS runtime. One runtime per script, in its own
// WebAssembly instance and memory (sandbox/wasm.ts), with its own memory limit, stack limit and a
// CPU deadline per entry (interrupt handler). The host talks to the guest through the typed wire
// of guest/wire.ts: the host-call table (sandbox/host-calls.ts) one way, the guest's API (deliver,
// settle, fireTimer, invoke) the other; outcomes go back in batches (sandbox/settle.ts).
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import type { ScriptLimits } from '../config/schema.js';
import { boundedText, guestError, jsonTooDeep, MAX_ERROR_MESSAGE, MAX_STACK } from './guest-data.js';
import { CpuBudget, mustWaitTurn, waitTurn } from './cpu-budget.js';
import { performance } from 'node:perf_hooks';
import { PRELUDE_FILE, preludeSource, quickjs } from './sandbox/wasm.js';
import { describeThrown, toGuestError, type GuestError } from './sandbox/guest-errors.js';
import { SettleBatch } from './sandbox/settle.js';
import { hostObject, type HostHandlers } from './sandbox/host-calls.js';
import type { DeliveryMeta, LogLevel } from './guest/wire.js';
import { realClock, type Clock } from '../clock.js';

export type { GuestError } from './sandbox/guest-errors.js';

const LOG_LEVELS = new Set<unknown>(['debug', 'info', 'warn', 'error']);
/** Messages of one delivery batch at most (and their payload bytes): the rest wait for the next call. */
const MAX_BATCH = 256;
const MAX_BATCH_BYTES = 1024 * 1024;

/** What the host provides to one script's sandbox. */
export interface HostCalls {
  /** Validate and start a publish; throw (TypeError/RangeError) on bad arguments. */
  publish(
    topic: unknown,
    payload: string | Uint8Array,
    qos: unknown,
    retain: unknown,
    stack: string,
    properties?: string,
  ): Promise<void>;
  log(level: LogLevel, text: string): void;
  unhandled(message: string, stack: string): void;
  /** An error thrown by guest code that no one caught (timer callback, handler, top level). */
  uncaught(err: GuestError): void;
  /**
   * Host code serving this script failed, or the host's stack ran out inside QuickJS (its state is
   * torn then): the sandbox takes no more calls. The owner reports `reason` and stops the script.
   */
  fault(reason: string): void;
  /** The script went over its CPU share and now waits (once per window while it lasts). */
  throttled(message: string): void;
  /** Synchronous calls by name (JSON in, JSON out); a throw becomes the same error in the guest. */
  calls: Record<string, (args: unknown[]) => unknown>;
  /** Asynchronous calls by name; the guest gets a promise settled with the result's outcome. */
  asyncCalls: Record<string, (args: unknown[]) => Promise<unknown>>;
}

/** A host error with a name the guest sees (e.g. 'EntityError'); its code travels too. */
export interface NamedError {
  name: string;
  message: string;
  code?: string;
}

/** One MQTT message for one of the script's handlers. */
export interface Delivery {
  subId: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  params: string[];
  /** MQTT 5 properties as the wire's JSON. */
  properties?: string;
  /** The payload is JSON nested deeper than parsing it safely allows. */
  deepJson?: boolean;
}

/** The outcome of a delivery batch. */
export interface Delivered {
  /** Messages of the batch handled (the rest go back to the queue, in order). */
  handled: number;
  /** The last handled message's handler returned a promise: it holds the rest until `handlerDone`. */
  holding: boolean;
  /** The batch was cut by an error out of the guest (e.g. the CPU deadline) on message `at`. */
  error?: GuestError;
  at?: number;
}

/** The label of the sandbox whose guest code (or host code serving it) is on the stack now. */
let running: string | undefined;
export function runningScript(): string | undefined {
  return running;
}

export class Sandbox {
  private readonly rt: QuickJSRuntime;
  private readonly vm: QuickJSContext;
  /** The guest's API object (wire GuestApi) and its functions, held for the sandbox's life. */
  private api!: QuickJSHandle;
  private fireTimerFn!: QuickJSHandle;
  private settleFn!: QuickJSHandle;
  private deliverFn!: QuickJSHandle;
  private invokeFn!: QuickJSHandle;
  private invokeBatchFn!: QuickJSHandle;
  private readonly settled: SettleBatch;
  /** The script's setTimeout/setInterval, by id: the clock's handle of each one's next time. */
  private readonly timers = new Map<number, unknown>();
  /** Timer ids whose callback waits (throttled, or for the next loop turn). */
  private readonly deferred = new Set<number>();
  private deadline = 0;
  /** Set by the interrupt handler: the current entry ran past its deadline. */
  private interrupted = false;
  /** An error of the current entry went to host.uncaught already. */
  private reported = false;
  private disposed = false;
  /** Set by breakDown: no call enters the guest again, and QuickJS is not asked to free a torn runtime. */
  private broken = false;
  pendingPublishes = 0;
  /** Called after each batch of publish outcomes reached the guest. */
  onSettled?: () => void;
  /** Payload bytes of this script's publishes not yet settled (host memory it holds). */
  private pendingBytes = 0;
  /** A delivery batch stops starting messages after this (each keeps its full cpu_limit_ms). */
  private readonly batchSliceMs: number;

  private constructor(
    mod: QuickJSWASMModule,
    private readonly limits: ScriptLimits,
    private readonly host: HostCalls,
    private readonly label?: string,
    /** What the script's timers and Date go by: a test's clock moves them (smart-home test). */
    private readonly clock: Clock = realClock,
  ) {
    this.rt = mod.newRuntime();
    this.rt.setMemoryLimit(Math.floor(limits.memory_limit_mb * 1024 * 1024));
    this.rt.setMaxStackSize(limits.stack_size_kb * 1024);
    this.rt.setInterruptHandler(() => {
      if (this.deadline === 0 || Date.now() <= this.deadline) return false;
      this.interrupted = true;
      return true;
    });
    this.vm = this.rt.newContext();
    this.batchSliceMs = limits.batch_ms;
    this.cpu = new CpuBudget(limits, (used, windows) =>
      this.host.throttled(
        `throttled: used ${Math.round(used)} ms of CPU in the last ${limits.cpu_window_s} s, over scripts.cpu_share (${Math.round(limits.cpu_share * 100)} % of a core); its timers and messages wait (${windows} of ${limits.cpu_stop_after_windows} windows in a row before it is stopped)`,
      ),
    );
    this.settled = new SettleBatch((ok, failed, values) =>
      this.guarded(() => {
        if (this.disposed) return;
        const err = this.enter(() => this.callGuest(this.settleFn, ok, failed, values));
        if (err) this.host.uncaught(err);
        this.onSettled?.();
      }),
    );
    this.installPrelude();
  }

  readonly cpu: CpuBudget;

  /**
   * Milliseconds this script must wait before its next timer callback or message (0: now). A
   * script over its CPU share for cpu_stop_after_windows windows in a row is stopped.
   */
  throttleWait(): number {
    if (this.disposed || this.broken) return 0;
    const wait = this.cpu.waitMs();
    if (wait > 0 && this.cpu.exhausted) {
      this.breakDown(
        `used more than scripts.cpu_share (${Math.round(this.limits.cpu_share * 100)} % of a core) in ${this.limits.cpu_stop_after_windows} windows of ${this.limits.cpu_window_s} s in a row`,
      );
      return 0;
    }
    return wait;
  }

  static async create(limits: ScriptLimits, host: HostCalls, label?: string, clock?: Clock): Promise<Sandbox> {
    const q = await quickjs(limits.memory_limit_mb);
    const sandbox = new Sandbox(q.module, limits, host, label, clock);
    sandbox.memory = q.memory;
    sandbox.capBytes = q.capBytes;
    return sandbox;
  }

  private memory?: WebAssembly.Memory;
  private capBytes = Infinity;
  private memoryReported = false;

  /**
   * Out of memory inside a promise job becomes a rejection the script may never look at (QuickJS
   * reports it as a null value, and quickjs-emscripten has no rejection tracker yet), so work can
   * stop silently. The WebAssembly memory only grows: once it is at the cap, say so, once.
   */
  private checkMemory(): void {
    if (this.memoryReported || !this.memory || this.memory.buffer.byteLength < this.capBytes * 0.95) return;
    this.memoryReported = true;
    this.host.uncaught({
      name: 'InternalError',
      stack: '',
      message: `out of memory: the script reached memory_limit_mb (${this.limits.memory_limit_mb} MB); allocations fail from now on and work that failed inside promise callbacks may have been dropped — fix the script (e.g. what it keeps) and reload it`,
    });
  }

  /** True when nothing more can happen without outside input: no timers, no publishes in flight. */
  get idle(): boolean {
    return this.timers.size === 0 && this.pendingPublishes === 0;
  }

  /** Defines JSON-able globals (e.g. `actionName` from `--set`). */
  setGlobals(values: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(values)) {
      const r = this.vm.evalCode(`(${JSON.stringify(value)})`);
      const h = this.vm.unwrapResult(r);
      this.vm.setProp(this.vm.global, name, h);
      h.dispose();
    }
  }

  /** Evaluates code and returns its completion value as JSON data, or the error it threw. */
  evaluate(code: string, filename: string): { value?: unknown; error?: GuestError } {
    let value: unknown;
    const error = this.enter(() => {
      const r = this.vm.evalCode(code, filename, { type: 'global' });
      if (!r.error) value = this.vm.dump(r.value);
      return r;
    });
    return { value, error };
  }

  /**
   * Looks the named functions up in the script's global scope, where top-level `const`/`let`
   * bindings live too (they are not properties of the global object), and has the guest call them
   * by name from then on. Returns the names that are functions. Names are the host's own
   * identifiers (entityAction, init, ...), never user input.
   */
  adopt(names: readonly string[]): string[] {
    if (this.disposed || this.broken) return [];
    for (const n of names) if (!/^[A-Za-z_$][\w$]*$/.test(n)) throw new Error(`adopt: ${n} is not an identifier`);
    const probe = `({${names.map((n) => `${n}: typeof ${n} === 'function' ? ${n} : undefined`).join(', ')}})`;
    let found: string[] = [];
    const error = this.enter(() => {
      const r = this.vm.evalCode(probe, 'smart-home:adopt', { type: 'global' });
      if (r.error) return r;
      const adoptFn = this.vm.getProp(this.api, 'adopt');
      const done = this.vm.callFunction(adoptFn, this.api, r.value);
      adoptFn.dispose();
      if (!done.error) {
        found = names.filter((n) => {
          const h = this.vm.getProp(r.value, n);
          const is = this.vm.typeof(h) === 'function';
          h.dispose();
          return is;
        });
      }
      r.value.dispose();
      return done;
    });
    return error ? [] : found;
  }

  /**
   * Installs more guest code (the test API of smart-home test): `code` is an expression whose value
   * is a function, called with the prelude's hooks (its sync and async host calls) and the global
   * object. Returns the error it threw, if any.
   */
  install(code: string, filename: string): GuestError | undefined {
    return this.enter(() => {
      const r = this.vm.evalCode(code, filename, { type: 'global' });
      if (r.error) return r;
      const hooks = this.vm.getProp(this.api, 'hooks');
      const done = this.vm.callFunction(r.value, this.vm.undefined, hooks, this.vm.global);
      hooks.dispose();
      r.value.dispose();
      return done;
    });
  }

  /** Runs top-level code; returns the error it threw, if any. */
  run(code: string, filename: string): GuestError | undefined {
    return this.enter(() => this.vm.evalCode(code, filename, { type: 'global' }));
  }

  /**
   * Hands a batch of MQTT messages (the script's queue, in order) to their handlers in one call:
   * their metadata as one JSON string, their texts as one string and their bytes as one buffer.
   * The guest stops at the first handler that returns a promise (it holds the rest) and after
   * batchSliceMs; `handled` says how many it took.
   */
  deliver(items: Delivery[]): Delivered {
    if (this.disposed || this.broken || items.length === 0) return { handled: items.length, holding: false };
    const metas: DeliveryMeta[] = [];
    const texts: string[] = [];
    const buffers: Buffer[] = [];
    let bytes = 0;
    for (const d of items) {
      if (metas.length === MAX_BATCH || (metas.length > 0 && bytes + d.payload.length > MAX_BATCH_BYTES)) break;
      const text = d.payload.toString('utf8');
      const deep = d.deepJson ?? jsonTooDeep(d.payload);
      metas.push([
        d.subId,
        d.topic,
        d.qos,
        d.retain ? 1 : 0,
        d.params,
        d.properties ?? '',
        deep ? 1 : 0,
        text.length,
        d.payload.length,
      ]);
      texts.push(text);
      buffers.push(d.payload);
      bytes += d.payload.length;
    }
    const all = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers, bytes);
    const joined = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    let handled = metas.length;
    // one deadline for the batch, stretched by the slice after which no new message starts: each
    // message still has its whole cpu_limit_ms
    const error = this.enter(
      () => {
        const vm = this.vm;
        const args = [vm.newString(JSON.stringify(metas)), vm.newString(texts.join('')), vm.newArrayBuffer(joined)];
        const r = vm.callFunction(this.deliverFn, vm.undefined, ...args);
        for (const a of args) a.dispose();
        if (!r.error) handled = vm.getNumber(r.value);
        return r;
      },
      metas.length > 1 ? this.batchSliceMs : 0,
    );
    if (error) {
      // cut on message `at`: it counts as handled (its error is reported), the rest go back
      const at = this.guestIndex('at');
      return { handled: Math.min(metas.length, at + 1), holding: false, error, at };
    }
    // never trust the guest: a whole count within the batch, or the whole batch
    if (!(Number.isInteger(handled) && Math.abs(handled) >= 1 && Math.abs(handled) <= metas.length))
      handled = metas.length;
    return { handled: Math.abs(handled), holding: handled < 0 };
  }

  /** An index the guest keeps on its API object (`at`, `invokeAt`): where an entry was when an error cut it. */
  private guestIndex(prop: 'at' | 'invokeAt'): number {
    try {
      const h = this.vm.getProp(this.api, prop);
      const n = this.vm.typeof(h) === 'number' ? this.vm.getNumber(h) : 0;
      h.dispose();
      return Number.isInteger(n) && n >= 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  /**
   * Calls the global function `name` with JSON arguments and waits for the promise it returns,
   * if any. Resolves with the error it threw or rejected with, or undefined.
   */
  async invoke(name: string, args: unknown[]): Promise<{ error?: GuestError; value?: unknown }> {
    const callId = this.nextCall++;
    // registered before entering: the guest may settle it while its jobs run inside enter()
    let settle!: (r: { error?: GuestError; value?: unknown }) => void;
    const settled = new Promise<{ error?: GuestError; value?: unknown }>((resolve) => {
      settle = resolve;
    });
    this.invocations.set(callId, settle);
    let immediate: string | undefined;
    const err = this.enter(() => {
      const vm = this.vm;
      const nameH = vm.newString(name);
      const argsH = vm.newString(JSON.stringify(args));
      const idH = vm.newNumber(callId);
      const r = vm.callFunction(this.invokeFn, vm.undefined, nameH, argsH, idH);
      nameH.dispose();
      argsH.dispose();
      idH.dispose();
      if (!r.error && vm.typeof(r.value) === 'string') immediate = vm.getString(r.value);
      return r;
    });
    if (err || immediate !== undefined) {
      this.invocations.delete(callId);
      return err ? { error: err } : { value: (JSON.parse(immediate!) as { value?: unknown }).value };
    }
    return settled; // by the guest's invokeDone call, or by dispose()
  }

  /**
   * Like invoke, for calls that may come many at once (the runs of one automation step): the
   * calls of one event-loop turn go into the sandbox in one entry, in order. A call the CPU
   * deadline stops gets that error; the calls after it go in the next entry.
   */
  invokeBatched(name: string, args: unknown[]): Promise<{ error?: GuestError; value?: unknown }> {
    if (this.disposed || this.broken)
      return Promise.resolve({ error: { name: 'Error', message: 'the script was unloaded', stack: '' } });
    const callId = this.nextCall++;
    const settled = new Promise<{ error?: GuestError; value?: unknown }>((resolve) => {
      this.invocations.set(callId, resolve);
    });
    this.batchedCalls.push({ name, callId, args });
    if (!this.batchScheduled) {
      this.batchScheduled = true;
      setImmediate(() => this.guarded(() => this.flushCalls()));
    }
    return settled;
  }

  private batchedCalls: { name: string; callId: number; args: unknown[] }[] = [];
  private batchScheduled = false;

  private flushCalls(): void {
    this.batchScheduled = false;
    while (this.batchedCalls.length > 0 && !this.disposed && !this.broken) {
      const name = this.batchedCalls[0]!.name;
      let n = 0;
      while (n < this.batchedCalls.length && n < MAX_BATCH && this.batchedCalls[n]!.name === name) n++;
      const calls = this.batchedCalls.splice(0, n);
      let started = calls.length;
      const error = this.enter(
        () => {
          const r = this.callGuest(this.invokeBatchFn, name, JSON.stringify(calls.map((c) => [c.callId, c.args])));
          if (!r.error) started = this.vm.getNumber(r.value);
          return r;
        },
        calls.length > 1 ? this.batchSliceMs : 0,
      );
      if (error) {
        const at = Math.min(calls.length - 1, this.guestIndex('invokeAt'));
        const resolve = this.invocations.get(calls[at]!.callId);
        this.invocations.delete(calls[at]!.callId);
        resolve?.({ error });
        started = at + 1;
      }
      if (!(Number.isInteger(started) && started >= 1 && started <= calls.length)) started = calls.length; // never trust the guest
      // not started (the slice ran out, or the deadline stopped an earlier call): first in the next entry
      if (started < calls.length) this.batchedCalls.unshift(...calls.slice(started));
    }
    if (this.disposed || this.broken) {
      for (const c of this.batchedCalls.splice(0)) {
        this.invocations.get(c.callId)?.({ error: { name: 'Error', message: 'the script was unloaded', stack: '' } });
        this.invocations.delete(c.callId);
      }
    }
  }

  private nextCall = 1;
  private readonly invocations = new Map<number, (r: { error?: GuestError; value?: unknown }) => void>();

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopTimersAndCalls('the script was unloaded');
    // A torn runtime (host stack overflow inside QuickJS) fails its own consistency checks when
    // freed; its memory is its own WebAssembly instance, dropped with this object.
    if (this.broken) return;
    try {
      for (const h of [this.fireTimerFn, this.settleFn, this.deliverFn, this.invokeFn, this.invokeBatchFn, this.api])
        h?.dispose();
      this.vm.dispose();
      this.rt.dispose();
    } catch {
      // freeing failed inside QuickJS (same as above: the instance goes with this object)
    }
  }

  private stopTimersAndCalls(why: string): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    for (const resolve of this.invocations.values()) resolve({ error: { name: 'Error', message: why, stack: '' } });
    this.invocations.clear();
  }

  /** The sandbox can no longer be entered safely: say why, once, and take no more calls. */
  private breakDown(err: unknown): void {
    if (this.broken || this.disposed) return;
    this.broken = true;
    const reason =
      typeof err === 'string'
        ? err
        : err instanceof RangeError
          ? "stack overflow in the host: the script nested deeper than the host's stack allows (e.g. JSON.stringify or JSON.parse of data nested thousands of levels deep)"
          : `host error while serving the script: ${err instanceof Error ? err.message : String(err)}`;
    this.stopTimersAndCalls(reason);
    this.host.fault(reason);
  }

  /** Runs host work for this script outside a guest call (a timer, a settle batch); a throw breaks only this sandbox. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.breakDown(err);
    }
  }

  memoryUsage(): number {
    const h = this.rt.computeMemoryUsage();
    const usage = this.vm.dump(h) as { memory_used_size?: number };
    h.dispose();
    return usage.memory_used_size ?? 0;
  }

  /** Calls a guest function with string arguments. */
  private callGuest(fn: QuickJSHandle, ...strings: string[]): ReturnType<QuickJSContext['callFunction']> {
    const args = strings.map((s) => this.vm.newString(s));
    const r = this.vm.callFunction(fn, this.vm.undefined, ...args);
    for (const a of args) a.dispose();
    return r;
  }

  /**
   * Every entry into the guest goes through here: deadline armed (cpu_limit_ms, plus `extraMs` for
   * a delivery batch), pending jobs run, errors caught.
   */
  private enter(fn: () => { error?: QuickJSHandle; value?: QuickJSHandle }, extraMs = 0): GuestError | undefined {
    if (this.disposed || this.broken) return undefined;
    const started = performance.now();
    const outer = running;
    running = this.label;
    this.deadline = Date.now() + this.limits.cpu_limit_ms + extraMs;
    this.interrupted = false;
    this.reported = false;
    try {
      // A throw out of fn or runJobs is the host's: its stack ran out inside WebAssembly (QuickJS's
      // own stack_size_kb check did not come first; deep JSON does that), or host code failed.
      const r = fn();
      if (r.error) return toGuestError(this.vm, r.error, this.limits);
      r.value?.dispose();
      this.runJobs();
      // Interrupted inside a promise job, the job's promise rejects and nothing else tells
      // (QuickJS has no rejection tracker here): a promise chain that never ends is stopped
      // by the deadline, and said here.
      if (this.interrupted && !this.reported) {
        this.host.uncaught({
          name: 'InternalError',
          message: `interrupted: promise callbacks ran longer than cpu_limit_ms (${this.limits.cpu_limit_ms} ms) without returning (a promise chain that never ends?)`,
          stack: '',
        });
      }
      return undefined;
    } catch (err) {
      this.breakDown(err);
      return undefined;
    } finally {
      running = outer;
      this.deadline = 0;
      this.cpu.spent(performance.now() - started);
      if (!this.broken) this.checkMemory();
    }
  }

  private runJobs(): void {
    for (;;) {
      const res = this.rt.executePendingJobs(1000);
      if (res.error) {
        const err = toGuestError(this.vm, res.error, this.limits);
        this.reported = true;
        this.host.uncaught(err);
        continue;
      }
      if (res.value === 0) return;
    }
  }

  /** The host's side of the wire: one handler per HostApi function. */
  private handlers(): HostHandlers {
    const host = this.host;
    const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const json = (v: unknown, what: string): unknown => {
      try {
        return JSON.parse(str(v));
      } catch {
        throw new TypeError(`${what}: malformed arguments`);
      }
    };
    return {
      publish: (id, topic, payload, qos, retain, stack, props) =>
        this.startPublish(
          num(id),
          topic,
          payload instanceof Uint8Array ? payload : '',
          qos,
          retain,
          str(stack),
          str(props),
        ),
      publishBatch: (batch) => {
        const parsed = json(batch, 'publishBatch');
        if (!Array.isArray(parsed) || !Array.isArray(parsed[0]) || !Array.isArray(parsed[1]))
          throw new TypeError('publishBatch: malformed batch');
        const [stacks, items] = parsed as [unknown[], unknown[]];
        for (const it of items) {
          if (!Array.isArray(it)) continue;
          this.startPublish(
            Number(it[0]),
            it[1],
            typeof it[2] === 'string' ? it[2] : '',
            it[3],
            it[4],
            str(stacks[Number(it[5])]),
            str(it[6]),
          );
        }
      },
      call: (name, args) => {
        const handler = host.calls[str(name)];
        if (!handler) throw new TypeError(`unknown host call ${str(name)}`);
        const result = handler(json(args, str(name)) as unknown[]);
        return result === undefined ? undefined : JSON.stringify(result);
      },
      callAsync: (idArg, name, args) => {
        const id = num(idArg);
        const handler = host.asyncCalls[str(name)];
        const started = handler
          ? handler(json(args, str(name)) as unknown[])
          : Promise.reject(new TypeError(`unknown host call ${str(name)}`));
        this.pendingPublishes++;
        started.then(
          (value) => {
            this.pendingPublishes--;
            this.settled.resolved(id, value);
          },
          (err: NamedError) => {
            this.pendingPublishes--;
            this.settled.rejected(id, err.code ?? 'ERROR', err.message ?? String(err), err.name ?? 'Error');
          },
        );
      },
      invokeDone: (id, ok, a, b, c) => {
        const callId = num(id);
        const resolve = this.invocations.get(callId);
        this.invocations.delete(callId);
        if (!resolve) return;
        if (ok === true) resolve({ value: (json(a, 'invokeDone') as { value?: unknown }).value });
        else resolve({ error: describeThrown(guestError(a, b, c), this.limits) });
      },
      uncaught: (name, message, stack) => host.uncaught(guestError(name, message, stack)),
      unhandled: (message, site) =>
        host.unhandled(boundedText(message, MAX_ERROR_MESSAGE), boundedText(site, MAX_STACK)),
      log: (level, text) =>
        host.log(
          LOG_LEVELS.has(level) ? (level as LogLevel) : 'info',
          boundedText(text, this.limits.max_log_line_kb * 1024),
        ),
      utf8Length: (text) => Buffer.byteLength(str(text), 'utf8'),
      setTimer: (id, ms, repeat) => this.setTimer(num(id), num(ms), repeat === true),
      clearTimer: (id) => {
        this.clock.clearTimeout(this.timers.get(num(id)));
        this.timers.delete(num(id));
      },
    };
  }

  private installPrelude(): void {
    const vm = this.vm;
    const host = hostObject(vm, this.handlers(), {
      maxPending: this.limits.max_pending_publishes,
      maxPayload: this.limits.max_payload_kb * 1024,
      maxPendingBytes: this.limits.max_pending_mb * 1024 * 1024,
      batchSliceMs: this.batchSliceMs,
      virtualTime: this.clock === realClock ? 0 : 1,
    });
    const install = vm.unwrapResult(vm.evalCode(preludeSource(), PRELUDE_FILE));
    this.api = vm.unwrapResult(vm.callFunction(install, vm.undefined, host, vm.global));
    install.dispose();
    host.dispose();
    this.fireTimerFn = vm.getProp(this.api, 'fireTimer');
    this.settleFn = vm.getProp(this.api, 'settle');
    this.deliverFn = vm.getProp(this.api, 'deliver');
    this.invokeFn = vm.getProp(this.api, 'invoke');
    this.invokeBatchFn = vm.getProp(this.api, 'invokeBatch');
  }

  /** Starts one publish asked for by the guest; its outcome is settled in the next batch. */
  private startPublish(
    id: number,
    topic: unknown,
    payload: string | Uint8Array,
    qos: unknown,
    retain: unknown,
    stack: string,
    properties = '',
  ): void {
    // The prelude checks these limits too, but it runs in the script's own space (a script that
    // replaced JSON.stringify once sent 6 MiB past a 1 MiB limit): the host decides.
    const refuse = (message: string) => this.settled.rejected(id, 'REFUSED', message);
    if (this.pendingPublishes >= this.limits.max_pending_publishes)
      return refuse(
        `more than max_pending_publishes (${this.limits.max_pending_publishes}) publishes are waiting for the broker`,
      );
    const size = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
    if (size > this.limits.max_payload_kb * 1024)
      return refuse(
        `Mqtt.publish: payload of ${size} bytes is larger than max_payload_kb (${this.limits.max_payload_kb} KiB)`,
      );
    if (this.pendingBytes + size > this.limits.max_pending_mb * 1024 * 1024)
      return refuse(
        `Mqtt.publish: more than max_pending_mb (${this.limits.max_pending_mb} MB) of payloads are waiting for the broker; await some before publishing more`,
      );
    let started: Promise<void>;
    try {
      // the prelude sends retain as 0/1; the host checks everything again
      started = this.host.publish(
        topic,
        payload,
        qos,
        retain === 1 ? true : retain === 0 ? false : retain,
        stack,
        properties || undefined,
      );
    } catch (err) {
      return refuse((err as Error).message);
    }
    this.pendingPublishes++;
    this.pendingBytes += size;
    started.then(
      () => {
        this.pendingPublishes--;
        this.pendingBytes -= size;
        this.settled.resolved(id);
      },
      (err: { code?: string; message?: string }) => {
        this.pendingPublishes--;
        this.pendingBytes -= size;
        this.settled.rejected(id, err.code ?? 'ERROR', err.message ?? String(err));
      },
    );
  }

  private setTimer(id: number, ms: number, repeat: boolean): void {
    if (this.timers.size >= this.limits.max_timers) {
      throw new RangeError(`too many timers: at most max_timers (${this.limits.max_timers}) may be pending`);
    }
    const delay = Math.min(Math.max(0, Number.isFinite(ms) ? ms : 0), 2 ** 31 - 1);
    const fire = (myTurn = false): void =>
      this.guarded(() => {
        if (this.disposed || this.broken) return;
        // fairness: over its CPU share the script waits; after a long callback of any script, timer
        // callbacks wait their turn in one queue (I/O is served between two turns)
        const wait = this.throttleWait();
        if (wait > 0 || (!myTurn && mustWaitTurn())) {
          if (this.deferred.has(id)) return; // an interval tick while one is already waiting: dropped
          this.deferred.add(id);
          const again = (turn: boolean) => {
            this.deferred.delete(id);
            if (this.timers.has(id)) fire(turn);
          };
          if (wait > 0) setTimeout(() => again(false), wait);
          else waitTurn(() => again(true));
          return;
        }
        if (!repeat) this.timers.delete(id);
        else
          this.timers.set(
            id,
            this.clock.setTimeout(() => fire(), interval),
          ); // armed before the callback runs: it may clear it
        const err = this.enter(() => {
          const idH = this.vm.newNumber(id);
          const r = this.vm.callFunction(this.fireTimerFn, this.vm.undefined, idH);
          idH.dispose();
          return r;
        });
        if (err) this.host.uncaught(err);
      });
    const interval = Math.max(1, delay);
    this.timers.set(
      id,
      this.clock.setTimeout(() => fire(), repeat ? interval : delay),
    );
  }
}
