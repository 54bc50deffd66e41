// The only module that touches QuickJS. One runtime per script, with its own memory limit,
// stack limit and a CPU deadline per invocation (interrupt handler). The host talks to the
// guest through a fixed set of calls: publish, log, unhandled, setTimer, clearTimer.
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  newQuickJSWASMModule,
  newVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import type { ScriptLimits } from '../config/schema.js';
import { PRELUDE, PRELUDE_FILE } from './prelude.js';
import { boundedText, guestError, jsonTooDeep, MAX_ERROR_MESSAGE, MAX_STACK } from './guest-data.js';
import { CpuBudget, mustWaitTurn, waitTurn } from './cpu-budget.js';
import { performance } from 'node:perf_hooks';

const LOG_LEVELS = new Set<unknown>(['debug', 'info', 'warn', 'error']);

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
  log(level: 'debug' | 'info' | 'warn' | 'error', text: string): void;
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

/** An error thrown inside the sandbox, as plain data. */
export interface GuestError {
  name: string;
  message: string;
  stack: string;
}

// quickjs-emscripten's setMemoryLimit does not add up what a runtime holds (its WebAssembly
// build cannot see allocation sizes; upstream issues #255/#271): a script could grow the shared
// WebAssembly heap to gigabytes. So each script gets its own instance of the (once compiled)
// module with its own WebAssembly.Memory whose `maximum` is the hard cap: when a script's memory
// cannot grow, QuickJS raises "out of memory" in that script only.
const WASM_PAGE = 65536;
/** What the module itself needs before any script allocates: its declared minimum memory. */
const BASE_PAGES = 256;
let compiled: Promise<WebAssembly.Module> | undefined;

function compiledModule(): Promise<WebAssembly.Module> {
  return (compiled ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@jitl/quickjs-wasmfile-release-sync/package.json'));
    return WebAssembly.compile(await readFile(path.join(dir, 'dist', 'emscripten-module.wasm')));
  })());
}

export async function quickjs(
  memoryLimitMb: number,
): Promise<{ module: QuickJSWASMModule; memory: WebAssembly.Memory; capBytes: number }> {
  const wasmModule = await compiledModule();
  const maximum = BASE_PAGES + Math.ceil((memoryLimitMb * 1024 * 1024) / WASM_PAGE);
  const wasmMemory = new WebAssembly.Memory({ initial: BASE_PAGES, maximum });
  return {
    module: await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmModule, wasmMemory })),
    memory: wasmMemory,
    capBytes: maximum * WASM_PAGE,
  };
}

/** The label of the sandbox whose guest code (or host code serving it) is on the stack now. */
let running: string | undefined;
export function runningScript(): string | undefined {
  return running;
}

export class Sandbox {
  private readonly rt: QuickJSRuntime;
  private readonly vm: QuickJSContext;
  private fireTimer?: QuickJSHandle;
  private settleFn?: QuickJSHandle;
  private deliverFn?: QuickJSHandle;
  private invokeFn?: QuickJSHandle;
  /** Publishes settled since the last flush: ok ids, and failures. */
  private settledOk: number[] = [];
  /** Async host calls that resolve with a value: [id, value] (JSON-able). */
  private settledValues: [number, unknown][] = [];
  private settledFailed: [number, string, string, string?][] = [];
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /** Timer ids whose callback waits (throttled, or for the next loop turn). */
  private readonly deferred = new Set<number>();
  private deadline = 0;
  /** Set by the interrupt handler: the current entry ran past its deadline. */
  private interrupted = false;
  /** An error of the current entry went to host.uncaught already. */
  private reported = false;
  private jobsScheduled = false;
  private disposed = false;
  /** Set by breakDown: no call enters the guest again, and QuickJS is not asked to free a torn runtime. */
  private broken = false;
  pendingPublishes = 0;
  /** Payload bytes of this script's publishes not yet settled (host memory it holds). */
  private pendingBytes = 0;

  private constructor(
    mod: QuickJSWASMModule,
    private readonly limits: ScriptLimits,
    private readonly host: HostCalls,
    private readonly label?: string,
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
    this.cpu = new CpuBudget(limits, (used, windows) =>
      this.host.throttled(
        `throttled: used ${Math.round(used)} ms of CPU in the last ${limits.cpu_window_s} s, over scripts.cpu_share (${Math.round(limits.cpu_share * 100)} % of a core); its timers and messages wait (${windows} of ${limits.cpu_stop_after_windows} windows in a row before it is stopped)`,
      ),
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

  static async create(limits: ScriptLimits, host: HostCalls, label?: string): Promise<Sandbox> {
    const q = await quickjs(limits.memory_limit_mb);
    const sandbox = new Sandbox(q.module, limits, host, label);
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

  /** Runs top-level code; returns the error it threw, if any. */
  run(code: string, filename: string): GuestError | undefined {
    return this.enter(() => this.vm.evalCode(code, filename, { type: 'global' }));
  }

  /**
   * Hands one MQTT message to the handlers `ids` (comma-separated). Returns true when they all
   * finished synchronously; otherwise `calls.handlerDone` is called when they settle.
   */
  deliver(
    ids: string,
    topic: string,
    payload: Buffer,
    qos: number,
    retain: boolean,
    params: string[],
    properties?: string,
    deepJson = jsonTooDeep(payload),
  ): { done: boolean; error?: GuestError } {
    if (this.disposed || this.broken) return { done: true };
    let done = true;
    const error = this.enter(() => {
      const vm = this.vm;
      const args = [
        vm.newString(ids),
        vm.newString(topic),
        vm.newString(payload.toString('utf8')),
        vm.newArrayBuffer(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength)),
        vm.newNumber(qos),
        retain ? vm.true : vm.false,
        vm.newString(JSON.stringify(params)),
        vm.newString(properties ?? ''),
        deepJson ? vm.true : vm.false,
      ];
      const r = vm.callFunction(this.deliverFn!, vm.undefined, ...args);
      for (const a of args) a.dispose();
      if (!r.error) done = vm.dump(r.value) === true;
      return r;
    });
    return { done: error ? true : done, error };
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
      const r = vm.callFunction(this.invokeFn!, vm.undefined, nameH, argsH, idH);
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
      this.fireTimer?.dispose();
      this.settleFn?.dispose();
      this.deliverFn?.dispose();
      this.invokeFn?.dispose();
      this.vm.dispose();
      this.rt.dispose();
    } catch {
      // freeing failed inside QuickJS (same as above: the instance goes with this object)
    }
  }

  private stopTimersAndCalls(why: string): void {
    for (const t of this.timers.values()) clearTimeout(t);
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

  /** Every entry into the guest goes through here: deadline armed, pending jobs run, errors caught. */
  private enter(fn: () => { error?: QuickJSHandle; value?: QuickJSHandle }): GuestError | undefined {
    if (this.disposed || this.broken) return undefined;
    const started = performance.now();
    const outer = running;
    running = this.label;
    this.deadline = Date.now() + this.limits.cpu_limit_ms;
    this.interrupted = false;
    this.reported = false;
    try {
      // A throw out of fn or runJobs is the host's: its stack ran out inside WebAssembly (QuickJS's
      // own stack_size_kb check did not come first; deep JSON does that), or host code failed.
      const r = fn();
      if (r.error) return this.toGuestError(r.error);
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
        const err = this.toGuestError(res.error);
        this.reported = true;
        this.host.uncaught(err);
        continue;
      }
      const n = res.value;
      if (n === 0) return;
    }
  }

  /** Publish settlements are handed to the guest in one call per tick, not one per message. */
  private scheduleJobs(): void {
    if (this.jobsScheduled) return;
    this.jobsScheduled = true;
    queueMicrotask(() =>
      this.guarded(() => {
        this.jobsScheduled = false;
        if (this.disposed) return;
        const batch = `${this.settledOk.join(',')}|${this.settledFailed.length ? JSON.stringify(this.settledFailed) : ''}`;
        const values = this.settledValues.length ? JSON.stringify(this.settledValues) : '';
        this.settledOk = [];
        this.settledFailed = [];
        this.settledValues = [];
        const err = this.enter(() => {
          const arg = this.vm.newString(batch);
          const v = this.vm.newString(values);
          const r = this.vm.callFunction(this.settleFn!, this.vm.undefined, arg, v);
          arg.dispose();
          v.dispose();
          return r;
        });
        if (err) this.host.uncaught(err);
      }),
    );
  }

  /** An error the guest reported as parts, with the same wording as one it threw. */
  private describeThrown(e: GuestError): GuestError {
    if (e.name === 'InternalError' && /interrupted/.test(e.message))
      e.message = `interrupted: the script ran longer than cpu_limit_ms (${this.limits.cpu_limit_ms} ms) without returning (an endless loop?)`;
    return e;
  }

  private toGuestError(handle: QuickJSHandle): GuestError {
    const dumped = this.vm.dump(handle) as unknown;
    handle.dispose();
    if (dumped && typeof dumped === 'object') {
      const raw = dumped as { name?: unknown; message?: unknown; stack?: unknown };
      const e = guestError(raw.name, raw.message, raw.stack);
      if (typeof raw.message !== 'string') e.message = Array.isArray(dumped) ? 'uncaught array' : 'uncaught object';
      this.describeThrown(e);
      if (e.name === 'InternalError' && /stack overflow/.test(e.message))
        e.message = `stack overflow: recursion deeper than stack_size_kb (${this.limits.stack_size_kb} KiB) allows`;
      return e;
    }
    if (dumped === null || /out of memory/i.test(String(dumped))) {
      return {
        name: 'InternalError',
        message: `out of memory: the script used more than memory_limit_mb (${this.limits.memory_limit_mb} MB)`,
        stack: '',
      };
    }
    return guestError('Error', `uncaught value: ${typeof dumped === 'string' ? dumped : String(dumped)}`, '');
  }

  private installPrelude(): void {
    const vm = this.vm;
    const host = vm.newObject();
    const fn = (name: string, impl: (...args: QuickJSHandle[]) => QuickJSHandle | undefined) => {
      const h = vm.newFunction(name, impl);
      vm.setProp(host, name, h);
      h.dispose();
    };
    fn('publish', (id, topic, payload, qos, retain, stack, props) => {
      this.startPublish(
        vm.getNumber(id!),
        vm.dump(topic!),
        copyBytes(vm, payload!),
        vm.dump(qos!),
        vm.dump(retain!),
        vm.getString(stack!),
        props ? String(vm.dump(props)) : '',
      );
      return undefined;
    });
    fn('publishBatch', (json) => {
      let items: unknown;
      try {
        items = JSON.parse(vm.getString(json!));
      } catch {
        items = undefined;
      }
      if (!Array.isArray(items)) throw new TypeError('publishBatch: malformed batch');
      for (const it of items as unknown[][]) {
        this.startPublish(
          Number(it[0]),
          it[1],
          typeof it[2] === 'string' ? it[2] : '',
          it[3],
          it[4],
          String(it[5] ?? ''),
          typeof it[6] === 'string' ? it[6] : '',
        );
      }
      return undefined;
    });
    fn('call', (name, json) => {
      const handler = this.host.calls[vm.getString(name!)];
      if (!handler) throw new TypeError(`unknown host call ${vm.getString(name!)}`);
      const result = handler(JSON.parse(vm.getString(json!)) as unknown[]);
      return result === undefined ? undefined : vm.newString(JSON.stringify(result));
    });
    fn('callAsync', (idH, name, json) => {
      const id = vm.getNumber(idH!);
      const handler = this.host.asyncCalls[vm.getString(name!)];
      const started = handler
        ? handler(JSON.parse(vm.getString(json!)) as unknown[])
        : Promise.reject(new TypeError(`unknown host call ${vm.getString(name!)}`));
      this.pendingPublishes++;
      started.then(
        (value) => {
          this.pendingPublishes--;
          if (value === undefined) this.settledOk.push(id);
          else this.settledValues.push([id, value]);
          this.scheduleJobs();
        },
        (err: NamedError) => {
          this.pendingPublishes--;
          this.settledFailed.push([id, err.code ?? 'ERROR', err.message ?? String(err), err.name ?? 'Error']);
          this.scheduleJobs();
        },
      );
      return undefined;
    });
    fn('invokeDone', (id, ok, a, b, c) => {
      const callId = vm.getNumber(id!);
      const resolve = this.invocations.get(callId);
      this.invocations.delete(callId);
      if (!resolve) return undefined;
      if (vm.dump(ok!) === true) resolve({ value: (JSON.parse(vm.getString(a!)) as { value?: unknown }).value });
      else resolve({ error: this.describeThrown(guestError(vm.dump(a!), vm.dump(b!), vm.dump(c!))) });
      return undefined;
    });
    fn('uncaught', (name, message, stack) => {
      this.host.uncaught(guestError(vm.dump(name!), vm.dump(message!), vm.dump(stack!)));
      return undefined;
    });
    const maxPending = vm.newNumber(this.limits.max_pending_publishes);
    vm.setProp(host, 'maxPending', maxPending);
    for (const [name, value] of [
      ['maxPayload', this.limits.max_payload_kb * 1024],
      ['maxPendingBytes', this.limits.max_pending_mb * 1024 * 1024],
    ] as const) {
      const h = vm.newNumber(value);
      vm.setProp(host, name, h);
      h.dispose();
    }
    maxPending.dispose();
    fn('utf8Length', (text) => vm.newNumber(Buffer.byteLength(vm.getString(text!), 'utf8')));
    fn('log', (level, text) => {
      const l = vm.dump(level!);
      this.host.log(LOG_LEVELS.has(l) ? l : 'info', boundedText(vm.dump(text!), this.limits.max_log_line_kb * 1024));
      return undefined;
    });
    fn('unhandled', (message, site) => {
      this.host.unhandled(boundedText(vm.dump(message!), MAX_ERROR_MESSAGE), boundedText(vm.dump(site!), MAX_STACK));
      return undefined;
    });
    fn('setTimer', (id, ms, repeat) => this.setTimer(vm.getNumber(id!), vm.getNumber(ms!), vm.dump(repeat!) === true));
    fn('clearTimer', (id) => {
      const n = vm.getNumber(id!);
      clearTimeout(this.timers.get(n));
      this.timers.delete(n);
      return undefined;
    });
    const factory = vm.unwrapResult(vm.evalCode(PRELUDE, PRELUDE_FILE));
    const api = vm.unwrapResult(vm.callFunction(factory, vm.undefined, host, vm.global));
    this.fireTimer = vm.getProp(api, 'fireTimer');
    this.settleFn = vm.getProp(api, 'settle');
    this.deliverFn = vm.getProp(api, 'deliver');
    this.invokeFn = vm.getProp(api, 'invoke');
    api.dispose();
    factory.dispose();
    host.dispose();
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
    const refuse = (message: string) => {
      this.settledFailed.push([id, 'REFUSED', message]);
      this.scheduleJobs();
    };
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
      this.settledFailed.push([id, 'REFUSED', (err as Error).message]);
      this.scheduleJobs();
      return;
    }
    this.pendingPublishes++;
    this.pendingBytes += size;
    started.then(
      () => {
        this.pendingPublishes--;
        this.pendingBytes -= size;
        this.settledOk.push(id);
        this.scheduleJobs();
      },
      (err: { code?: string; message?: string }) => {
        this.pendingPublishes--;
        this.pendingBytes -= size;
        this.settledFailed.push([id, err.code ?? 'ERROR', err.message ?? String(err)]);
        this.scheduleJobs();
      },
    );
  }

  private setTimer(id: number, ms: number, repeat: boolean): QuickJSHandle | undefined {
    if (this.timers.size >= this.limits.max_timers) {
      throw new RangeError(`too many timers: at most max_timers (${this.limits.max_timers}) may be pending`);
    }
    const delay = Math.min(Math.max(0, ms), 2 ** 31 - 1);
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
        const err = this.enter(() => {
          const idH = this.vm.newNumber(id);
          const r = this.vm.callFunction(this.fireTimer!, this.vm.undefined, idH);
          idH.dispose();
          return r;
        });
        if (err) this.host.uncaught(err);
      });
    this.timers.set(id, repeat ? setInterval(() => fire(), Math.max(1, delay)) : setTimeout(() => fire(), delay));
    return undefined;
  }
}

function copyBytes(vm: QuickJSContext, h: QuickJSHandle): Uint8Array {
  const life = vm.getArrayBuffer(h);
  const copy = new Uint8Array(life.value); // copy out of WASM memory before releasing it
  life.dispose();
  return copy;
}
