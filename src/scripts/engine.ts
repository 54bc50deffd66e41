// Loads scripts, gives each a sandbox with the bindings, keeps their logs, and reports every
// error at the user's own file:line:col.
import { readdirSync, readFileSync, existsSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { ScriptLimits } from '../config/schema.js';
import type { EventBus, MqttMessageEvent, ScriptLogEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { CompiledScript, Language } from './compiled.js';
import { compileOffThread, configureCompiler } from './compiler/pool.js';
import { codeFrame, formatLocated, ScriptError, type Location } from './errors.js';
import { Sandbox, type GuestError, type NamedError } from './sandbox.js';
import { publishBinding, requestCalls, wireProperties } from './bindings/mqtt.js';
import {
  entityAsyncCalls,
  entityCalls,
  settingsCalls,
  sharedStorageCalls,
  storageCalls,
  type EntityAccess,
  type StorageAccess,
} from './bindings/entity.js';
import { cryptoCalls } from './bindings/crypto.js';
import { httpCalls } from './bindings/http.js';
import { systemCalls, type AutomationAccess } from './bindings/system.js';
import { notifyCalls, type NotifyAccess } from './bindings/notify.js';
import { InputRouter } from './inputs.js';
import type { Quarantine } from './quarantine.js';
import type { NamedTimers } from './bindings/timer.js';
import type { Clock } from '../clock.js';
import { boundedText, framesOf, jsonTooDeep, MAX_JSON_DEPTH, parseFrame } from './guest-data.js';

export interface EngineContext {
  limits: ScriptLimits;
  bus: MqttBus;
  events: EventBus;
  log: Logger;
  /** Directory whose .js/.ts/.coffee files are loaded on start, if it exists. */
  dir?: string;
  entities?: EntityAccess;
  storage?: StorageAccess;
  /** Scripts that run entity actions are not started on their own. */
  isActionScript?: (file: string) => boolean;
  /** Scripts the hub crashed on, kept from starting (the hub's data dir). */
  quarantine?: Quarantine;
  /** Entity scripts: those that define e154's functions (init, entityAction, ...) start with the hub. */
  entityScripts?: () => EntityScriptInfo[];
  /** The hub's key for Encrypt/Decrypt (never given to a script). */
  secretKey?: () => Buffer;
  /** Notify.send and template.render. */
  notify?: NotifyAccess;
  /** e154's PushSystemEvent: enable, disable or run an automation. */
  automations?: AutomationAccess;
  /** Timer.at/in/cancel/list/on: named timers kept across restarts. */
  timers?: NamedTimers;
  /** What scripts' timers and Date go by, when it is not the real time (a test's clock: smart-home test). */
  clock?: Clock;
  /** false: the scripts of `dir` do not start on their own (a dry run starts the one it runs). */
  startDir?: boolean;
}

/** A configured entity's script (and e154's MQTT entity topic, whose messages go to its mqttEvent). */
export interface EntityScriptInfo {
  entityId: string;
  file: string;
  subscribeTopic?: string;
  /** e154's Zigbee2MQTT entity: its device's topic, whose messages go to zigbee2mqttEvent(message). */
  zigbee2mqttTopic?: string;
}

export interface ScriptInfo {
  name: string;
  file: string;
  language: string;
  errors: number;
  pendingPublishes: number;
  subscriptions: number;
  queued: number;
  overflows: number;
  delivered: number;
}

export interface LoadOptions {
  globals?: Record<string, unknown>;
  name?: string;
  language?: Language;
  /** The Storage namespace, when it is not the script's name (action bodies share one per entity action). */
  storage?: string;
  /** An entity's script: `const ENTITY_ID` is defined before it runs, and its convention functions are looked up. */
  entityId?: string;
  /** More host calls and guest code for this script alone (the test API of smart-home test). */
  extra?: ScriptExtra;
}

/** Host calls and a guest bundle added to one script's sandbox, installed before the script runs. */
export interface ScriptExtra {
  calls: Record<string, (args: unknown[]) => unknown>;
  asyncCalls: Record<string, (args: unknown[]) => Promise<unknown>>;
  /** An expression whose value is a function (hooks, global) => void; see Sandbox.install. */
  install?: { code: string; filename: string };
}

/**
 * The functions the original system (e154) calls in an entity's script, found whether they are
 * declared with `function`, `const`, `let` or `var`.
 */
/** Timer.* where the hub keeps no timers (a script run on its own, a test without a store). */
const noTimers = Object.fromEntries(
  ['timer.at', 'timer.in', 'timer.cancel', 'timer.list', 'timer.on'].map((n) => [
    n,
    () => {
      throw new TypeError('Timer is not available in this run (no hub to keep the timers)');
    },
  ]),
);

export const ENTITY_CONVENTIONS = ['entityAction', 'init', 'mqttEvent', 'zigbee2mqttEvent', 'sceneEvent'] as const;

export class Script {
  readonly logs: ScriptLogEvent[] = [];
  /** Characters of message text in `logs`. */
  logBytes = 0;
  errors = 0;
  /** The last error located in the user's source (the UI marks its line). */
  lastError?: { line: number; col: number; message: string };
  /** Of ENTITY_CONVENTIONS, the functions an entity's script defines. */
  conventions: string[] = [];
  constructor(
    readonly name: string,
    readonly compiled: CompiledScript,
    readonly sandbox: Sandbox,
  ) {}

  get idle(): boolean {
    return this.sandbox.idle;
  }
}

export class ScriptEngine {
  private readonly scripts = new Map<string, Script>();
  /** Since start: times scripts were throttled for CPU, scripts stopped by a fault or their CPU use. */
  readonly counters = { throttled: 0, stopped: 0 };
  readonly inputs: InputRouter;
  private offMessage?: () => void;

  constructor(private readonly ctx: EngineContext) {
    this.inputs = new InputRouter(ctx.bus, ctx.limits, ctx.log);
    configureCompiler(ctx.limits);
  }

  async start(): Promise<void> {
    this.offMessage = this.ctx.events.on('mqtt.message', (m) => this.inputs.route(m));
    if (this.ctx.startDir !== false) await this.startDir();
    await this.startEntityScripts(this.ctx.entityScripts?.() ?? []);
    this.watchModules();
  }

  private modulesWatcher?: FSWatcher;
  private modulesChanged = new Set<string>();
  private modulesTimer?: NodeJS.Timeout;

  /** A change to a module (a file in lib/, or a script another requires by name) reloads the scripts that bundle it. */
  private watchModules(): void {
    const dir = this.ctx.dir;
    if (!dir || !existsSync(dir)) return;
    try {
      this.modulesWatcher = watch(dir, { recursive: true }, (_event, name) => {
        // a module, or a script another one requires by its name (e154's require(name)); the
        // changed script itself is reloaded by the library
        if (!name) return;
        this.modulesChanged.add(path.resolve(dir, String(name)));
        clearTimeout(this.modulesTimer);
        this.modulesTimer = setTimeout(() => void this.reloadUsers(), 200);
      });
      this.modulesWatcher.on('error', () => {});
    } catch (err) {
      this.ctx.log.warn(
        { dir, err: (err as Error).message },
        'cannot watch the scripts dir: a change to a module reloads its scripts at their next save',
      );
    }
  }

  private async reloadUsers(): Promise<void> {
    const changed = this.modulesChanged;
    this.modulesChanged = new Set();
    for (const s of [...this.scripts.values()]) {
      const hit = s.compiled.modules.find((m) => changed.has(m));
      if (!hit || s.name.includes(':')) continue; // entity scripts and callbacks start again on their next call
      try {
        await this.load(s.compiled.file, { name: s.name });
        this.ctx.log.info({ script: s.name, module: hit }, 'a module it uses changed: reloaded');
      } catch (err) {
        this.ctx.log.error({ script: s.name }, err instanceof ScriptError ? err.report : String(err));
      }
    }
  }

  private async startDir(): Promise<void> {
    const dir = this.ctx.dir;
    if (!dir || !existsSync(dir)) return;
    const q = this.ctx.quarantine;
    const crashed = q?.recoverMarker();
    if (crashed)
      this.ctx.log.error(
        { script: crashed },
        `the hub stopped while script ${crashed} was starting: it is disabled until it is saved or run again`,
      );
    for (const f of readdirSync(dir)
      .filter((f) => /\.(js|ts|coffee)$/.test(f) && !isTestFile(f))
      .sort()) {
      if (this.ctx.isActionScript?.(path.join(dir, f))) continue;
      const disabled = q?.reasonFor(f);
      if (disabled) {
        this.ctx.log.error(
          { script: f },
          `script ${f} is disabled since ${new Date(disabled.since).toISOString()}: ${disabled.reason}. Fix it and save it (or run it) to enable it again`,
        );
        continue;
      }
      try {
        const source = readFileSync(path.join(dir, f), 'utf8');
        // a file of e154's automation callbacks runs when its automation calls it (script_file:), not on its own
        if (definesAutomationCallbacks(source)) continue;
        q?.starting(f);
        await this.load(path.join(dir, f), {}, source);
      } catch (err) {
        // One bad script does not keep the others (or the hub) from starting.
        this.ctx.log.error({ script: f }, err instanceof ScriptError ? err.report : String(err));
      } finally {
        q?.started();
      }
    }
  }

  /** Why a script is disabled (the hub crashed on it), if it is. */
  disabledReason(name: string): string | undefined {
    return this.ctx.quarantine?.reasonFor(name)?.reason;
  }

  /** Records that the hub is crashing on `name`, so it starts disabled next time. */
  disable(name: string, reason: string): void {
    this.ctx.quarantine?.disable(name, reason);
  }

  /** A disabled script is saved or run again: it may start. */
  enable(name: string): void {
    this.ctx.quarantine?.enable(name);
  }

  async stop(): Promise<void> {
    this.modulesWatcher?.close();
    clearTimeout(this.modulesTimer);
    this.offMessage?.();
    for (const name of [...this.scripts.keys()]) this.unload(name);
    this.inputs.stop();
  }

  /** Whether a message's payload is JSON nested too deep to parse in a sandbox: scanned once, whatever the number of scripts. */
  private deepJson(msg: MqttMessageEvent): boolean {
    if (msg.payload.length <= MAX_JSON_DEPTH) return false; // the common case: too short to nest that deep
    let deep = this.deepJsonSeen.get(msg);
    if (deep === undefined) this.deepJsonSeen.set(msg, (deep = jsonTooDeep(msg.payload)));
    return deep;
  }

  private readonly deepJsonSeen = new WeakMap<MqttMessageEvent, boolean>();

  list(): ScriptInfo[] {
    return [...this.scripts.values()].map((s) => ({
      name: s.name,
      file: s.compiled.file,
      language: s.compiled.language,
      errors: s.errors,
      pendingPublishes: s.sandbox.pendingPublishes,
      ...(this.inputs.stats(s.name) ?? { subscriptions: 0, queued: 0, overflows: 0, delivered: 0 }),
    }));
  }

  get(name: string): Script | undefined {
    return this.scripts.get(name);
  }

  /**
   * Compiles and starts a script (its top level runs once). A compile error throws a
   * ScriptError; a runtime error at the top level is logged to the script's log and counted.
   */
  async load(file: string, opts: LoadOptions = {}, source = readFileSync(file, 'utf8')): Promise<Script> {
    const compiled = await compileOffThread(file, source, opts.language);
    const name = opts.name ?? path.basename(file);
    this.unload(name);
    let script: Script | undefined;
    const router = this.inputs;
    const notify = notifyCalls(this.ctx.notify, (stack) => {
      const at = this.locateStack(compiled, stack);
      return `script ${compiled.file}${at ? `:${at.line}` : ''}`;
    });
    const sandbox = await Sandbox.create(
      this.ctx.limits,
      {
        publish: publishBinding(
          this.ctx.bus,
          compiled,
          (stack) => this.locateStack(compiled, stack),
          (topic, bytes) => router.published(name, topic, bytes),
        ),
        log: (level, text) => script && this.logTo(script, level, text),
        unhandled: (message, stack) =>
          script && this.fail(script, `unhandled rejection of ${message}`, this.locateStack(compiled, stack)),
        uncaught: (err) => script && this.reportGuestError(script, err),
        fault: (reason) => script && this.stopFaulted(script, reason),
        throttled: (message) => {
          this.counters.throttled++;
          if (script) this.logTo(script, 'warn', message);
        },
        calls: {
          subscribe: ([id, filter, self, retained]) =>
            router.subscribe(name, Number(id), filter, self === true, retained),
          unsubscribe: ([id]) => router.unsubscribe(name, Number(id)),
          handlerDone: () => router.handlerDone(name),
          ...entityCalls(this.ctx.entities),
          ...storageCalls(this.ctx.storage, opts.storage ?? name),
          ...sharedStorageCalls(this.ctx.storage),
          ...settingsCalls(this.ctx.entities, this.ctx.storage),
          ...cryptoCalls(this.ctx.secretKey, this.ctx.limits.max_payload_kb * 1024),
          ...notify.sync,
          ...(this.ctx.timers?.calls(name) ?? noTimers),
          ...(this.ctx.clock ? { 'clock.now': () => this.ctx.clock!.now() } : {}),
          ...opts.extra?.calls,
        },
        asyncCalls: {
          ...entityAsyncCalls(this.ctx.entities, name),
          ...requestCalls(this.ctx.bus),
          ...notify.async,
          ...systemCalls(this.ctx.automations, `script ${name}`),
          'entity.callScript': ([id, fn, payload]) => this.callEntityScript(String(id), String(fn), [payload]),
          ...httpCalls(this.ctx.limits.http, this.ctx.limits.max_payload_kb * 1024, (line, stack) => {
            const at = this.locateStack(compiled, stack);
            if (script) this.logTo(script, 'info', at ? `${line} (${compiled.file}:${at.line})` : line);
          }),
          ...opts.extra?.asyncCalls,
        },
      },
      name,
      this.ctx.clock,
    );
    script = new Script(name, compiled, sandbox);
    this.scripts.set(name, script);
    const loaded = script;
    router.attach({
      name,
      deliver: (batch) => {
        const r = sandbox.deliver(
          batch.map(({ subId, msg, params }) => ({
            subId,
            topic: msg.topic,
            payload: msg.payload,
            qos: msg.qos,
            retain: msg.retain,
            params,
            properties: msg.properties && wireProperties(msg.properties),
            deepJson: this.deepJson(msg),
          })),
        );
        if (r.error) {
          const on = batch[r.at ?? 0]?.msg.topic;
          this.reportGuestError(
            loaded,
            on ? { ...r.error, message: `${r.error.message} (handling a message on ${on})` } : r.error,
          );
        }
        return r;
      },
      log: (level, message) => this.logTo(loaded, level, message),
      waitMs: () => sandbox.throttleWait(),
      saturated: () => sandbox.pendingPublishes >= Math.max(1, Math.floor(this.ctx.limits.max_pending_publishes / 2)),
    });
    sandbox.onSettled = () => router.drained(name);
    if (opts.globals) sandbox.setGlobals(opts.globals);
    if (opts.extra?.install) {
      const err = sandbox.install(opts.extra.install.code, opts.extra.install.filename);
      if (err) throw new Error(`${opts.extra.install.filename} failed to install: ${err.message}`);
    }
    // as e154 does: a global lexical binding the script sees (and cannot reassign)
    if (opts.entityId) sandbox.run(`const ENTITY_ID = ${JSON.stringify(opts.entityId)};`, 'smart-home:entity');
    const err = sandbox.run(compiled.code, compiled.evalName);
    if (err) this.reportGuestError(script, err);
    else if (opts.entityId) script.conventions = sandbox.adopt(ENTITY_CONVENTIONS);
    return script;
  }

  /**
   * Runs an entity action with `file`: a script that defines `entityAction(entityId, actionName,
   * params)` is loaded once and that function is called; any other script is an action body,
   * run fresh each time with `entityId`, `actionName` and `params` in scope (the seed's example).
   */
  async runEntityAction(
    file: string,
    entityId: string,
    actionName: string,
    params: Record<string, unknown>,
  ): Promise<void> {
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'does not exist'
          : `cannot be read (${(err as Error).message})`;
      throw Object.assign(
        new Error(
          `entity ${entityId}: its script ${file} ${why}; put it in ${path.dirname(file)}/ or fix "script:" in the entity's config`,
        ),
        { code: 'ACTION_FAILED', name: 'EntityError' },
      );
    }
    const compiled = await compileOffThread(file, source);
    const fail = (script: Script, err: GuestError): never => {
      this.reportGuestError(script, err);
      throw Object.assign(
        new Error(`action ${actionName} of ${entityId} failed: ${this.describeGuestError(script.compiled, err).text}`),
        { code: 'ACTION_FAILED', name: 'EntityError' },
      );
    };
    if (definesEntityAction(compiled.code)) {
      const script = await this.runningEntityScript(file, entityId, source);
      if (!script.conventions.includes('entityAction'))
        fail(script, {
          name: 'TypeError',
          message: `entityAction is not a function after the script's top level ran${script.errors > 0 ? ' (its top level failed: see the log)' : ''}`,
          stack: '',
        });
      const { error } = await script.sandbox.invoke('entityAction', [entityId, actionName, params]);
      if (error) fail(script, error);
      return;
    }
    const name = `action:${entityId}:${actionName}:${Date.now()}`;
    // one Storage namespace per entity action, whatever run this is (a run-stamped one escaped the quota)
    const script = await this.load(
      file,
      { name, globals: { entityId, actionName, params }, storage: `action:${entityId}:${actionName}` },
      source,
    );
    try {
      if (script.errors > 0)
        fail(script, { name: 'Error', message: script.logs.at(-1)?.message ?? 'failed', stack: '' });
      await this.whenIdle(script, 10, this.ctx.limits.cpu_limit_ms * 10);
    } finally {
      this.unload(name);
    }
  }

  /**
   * Starts the script of entity `entityId` the way e154 does: one instance per entity, with
   * `const ENTITY_ID` defined, its top level run, then `init()` if it defines one (awaited; an
   * error in it is logged at its line and the script stays loaded for its actions), then, for an
   * entity with `subscribe_topic`, its messages go to `mqttEvent(message)`, and for one with
   * `zigbee2mqtt_device`, that device's messages to `zigbee2mqttEvent(message)`.
   */
  async startEntityScript(file: string, entityId: string, source = readFileSync(file, 'utf8')): Promise<Script> {
    const script = await this.load(file, { name: entityScriptName(entityId), entityId }, source);
    if (script.conventions.includes('init')) {
      const { error } = await script.sandbox.invoke('init', []);
      if (error) this.reportGuestError(script, error);
    }
    const info = this.ctx.entityScripts?.().find((e) => e.entityId === entityId);
    const feeds: [string | undefined, 'mqttEvent' | 'zigbee2mqttEvent', string][] = [
      [info?.subscribeTopic, 'mqttEvent', 'subscribe_topic'],
      [info?.zigbee2mqttTopic, 'zigbee2mqttEvent', 'zigbee2mqtt_device'],
    ];
    for (const [topic, fn, key] of feeds) {
      if (!topic || !script.conventions.includes(fn)) continue;
      // e154's message shape, as the argument and as the global `message` (its older scripts read
      // that); subscribed through Mqtt.subscribe, so queueing, order and limits are a script's
      const err = script.sandbox.run(
        `Mqtt.subscribe(${JSON.stringify(topic)}, (m) => { const message = { payload: m.payload, topic: m.topic, qos: m.qos, duplicate: false, error: '', success: true, new_state: {} }; globalThis.message = message; return ${fn}(message); });`,
        'smart-home:entity',
      );
      if (err) this.fail(script, `${key} ${JSON.stringify(topic)}: ${err.name}: ${err.message}`, undefined);
    }
    return script;
  }

  private readonly startingScripts = new Map<string, Promise<Script>>();

  /** The entity's script as it runs now, started (once, however many ask at once) if it is not, or changed. */
  /** The script `name` as it runs now with `source`; else one start of it, shared by all who ask meanwhile (init() runs once). */
  private running(name: string, source: string, start: () => Promise<Script>): Promise<Script> {
    const script = this.scripts.get(name);
    if (script && script.compiled.source === source) return Promise.resolve(script);
    const key = `${name}\u0000${source}`;
    let starting = this.startingScripts.get(key);
    if (!starting) {
      starting = start().finally(() => this.startingScripts.delete(key));
      this.startingScripts.set(key, starting);
    }
    return starting;
  }

  private runningEntityScript(file: string, entityId: string, source: string): Promise<Script> {
    return this.running(entityScriptName(entityId), source, () => this.startEntityScript(file, entityId, source));
  }

  /** Calls `fn` of a running script, however it is declared; `missing` when it has none, else its value or its located error. */
  private async callFunction(
    script: Script,
    fn: string,
    args: unknown[],
  ): Promise<{ value?: unknown; missing?: true; error?: string }> {
    if (!script.sandbox.adopt([fn]).includes(fn)) return { missing: true };
    const { value, error } = await script.sandbox.invoke(fn, args);
    if (!error) return { value };
    this.reportGuestError(script, error);
    return { error: this.describeGuestError(script.compiled, error).text };
  }

  /**
   * e154's automation callbacks: calls `fn` of a script file of the scripts dir (one instance per
   * file, started on first use, started again when the file changed). Never throws: the error is
   * returned, located.
   */
  async callFileFunction(file: string, fn: string, args: unknown[]): Promise<{ value?: unknown; error?: string }> {
    const dir = this.ctx.dir;
    if (!dir) return { error: `script_file ${file}: there is no scripts dir in this run` };
    const abs = path.resolve(dir, file);
    if (path.relative(dir, abs).startsWith('..') || path.isAbsolute(path.relative(dir, abs)))
      return { error: `script_file ${file}: must be a file in the scripts dir (${dir})` };
    let source: string;
    try {
      source = readFileSync(abs, 'utf8');
    } catch (err) {
      return {
        error: `script_file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); put it in ${dir}/`,
      };
    }
    const name = `automation-file:${path.relative(dir, abs)}`;
    let script: Script;
    try {
      script = await this.running(name, source, () => this.load(abs, { name }, source));
    } catch (err) {
      return { error: err instanceof ScriptError ? err.report : String(err) };
    }
    const r = await this.callFunction(script, fn, args);
    if (r.missing) return { error: `script_file ${file}: has no function ${fn} (e154's callback for this step)` };
    return r.error ? { error: `${fn} of ${file} failed: ${r.error}` } : { value: r.value };
  }

  /**
   * e154's EntityCallScript(entityId, fn, payload): calls a function of another entity's script
   * (EntityCallScene calls sceneEvent(entityId, args) so); `who` names the call in its errors.
   */
  async callEntityScript(entityId: string, fn: string, args: unknown[], who = 'EntityCallScript'): Promise<unknown> {
    const info = this.ctx.entityScripts?.().find((e) => e.entityId === entityId);
    const refuse = (message: string): never => {
      throw { name: 'EntityError', code: 'CALL_SCRIPT', message: `${who}: ${message}` } satisfies NamedError;
    };
    if (!info) return refuse(`entity ${entityId} has no script (give it script: in smart-home.yaml)`);
    if (!/^[A-Za-z_$][\w$]*$/.test(fn)) return refuse(`"${fn}" is not a function name`);
    let source: string;
    try {
      source = readFileSync(info.file, 'utf8');
    } catch (err) {
      return refuse(`the script of ${entityId} cannot be read: ${(err as Error).message}`);
    }
    const r = await this.callFunction(await this.runningEntityScript(info.file, entityId, source), fn, args);
    if (r.missing) return refuse(`the script of ${entityId} (${path.basename(info.file)}) has no function ${fn}`);
    if (r.error) return refuse(`${fn} of ${entityId} failed: ${r.error}`);
    return r.value ?? null;
  }

  /** Starts, at hub start, the entity scripts that define e154's functions (entityAction, init, ...). */
  async startEntityScripts(list: EntityScriptInfo[]): Promise<void> {
    for (const { entityId, file } of list) {
      let source: string;
      try {
        source = readFileSync(file, 'utf8');
      } catch {
        continue; // its actions say that the file is missing
      }
      if (!definesConventions(source)) continue;
      try {
        await this.startEntityScript(file, entityId, source);
      } catch (err) {
        this.ctx.log.error(
          { script: path.basename(file), entity: entityId },
          err instanceof ScriptError ? err.report : String(err),
        );
      }
    }
  }

  /**
   * Runs a snippet (an automation's script action) with `globals` until its promise and
   * publishes are done (or `signal` aborts). JavaScript and TypeScript snippets are compiled once
   * into a function of a warm sandbox kept per `origin`, so a run costs a call, not a sandbox;
   * CoffeeScript ones run in a fresh sandbox. `origin` is "file:line:col" of the snippet in its
   * file (e.g. automations.yaml), so errors are located there (see snippetSource).
   */
  async runSnippet(
    origin: string,
    code: string,
    language: Language,
    globals: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ error?: string }> {
    const names = Object.keys(globals);
    if (language === 'coffee') return this.runFreshSnippet(origin, code, language, globals, signal);
    const script = await this.snippet(origin, code, language, `async function (${names.join(', ')}) {`, '\n}');
    const done = script.sandbox.invokeBatched(
      '__snippet',
      names.map((n) => globals[n]),
    );
    const aborted = new Promise<'aborted'>((r) =>
      signal?.addEventListener('abort', () => r('aborted'), { once: true }),
    );
    const result = await Promise.race([done, aborted]);
    if (result === 'aborted') return {};
    if (result.error) return { error: this.describeSnippetError(origin, script.compiled, result.error) };
    return {};
  }

  /** A snippet's error at its file's line and column, with a frame of the file's real lines. */
  private describeSnippetError(origin: string, compiled: CompiledScript, err: GuestError): string {
    const { file, colShift } = snippetSource(origin, '');
    let frameSource: string | undefined;
    try {
      frameSource = readFileSync(file, 'utf8');
    } catch {
      /* the file is gone: the snippet's own lines */
    }
    return this.describeGuestError(compiled, err, { colShift, frameSource }).text;
  }

  /** Evaluates an expression (an automation's script condition) in a warm sandbox kept per `origin`. */
  async evaluateSnippet(
    origin: string,
    expression: string,
    globals: Record<string, unknown>,
  ): Promise<{ value?: unknown; error?: string }> {
    const names = Object.keys(globals);
    const script = await this.snippet(origin, expression, 'js', `function (${names.join(', ')}) { return (`, '\n); }');
    const { value, error } = await script.sandbox.invokeBatched(
      '__snippet',
      names.map((n) => globals[n]),
    );
    return error ? { error: this.describeSnippetError(origin, script.compiled, error) } : { value };
  }

  /**
   * The warm sandbox of a snippet, (re)loaded when its code changed; concurrent runs share one
   * load. The wrapper shares the snippet's first line, so line numbers stay those of its file.
   */
  private snippet(origin: string, code: string, language: Language, open: string, close: string): Promise<Script> {
    const name = `snippet:${origin}`;
    const known = this.snippetCode.get(name);
    if (known && known.code === code) return known.script;
    const { file, source } = snippetSource(origin, code);
    const script = this.load(file, { name, language }, `globalThis.__snippet = ${open}${source}${close}`);
    this.snippetCode.set(name, { code, script });
    script.catch(() => this.snippetCode.delete(name));
    return script;
  }

  private readonly snippetCode = new Map<string, { code: string; script: Promise<Script> }>();

  /** Unloads the warm snippets whose origin is not in `keep` (after automations were reloaded). */
  forgetSnippets(keep: string[]): void {
    const names = new Set(keep.map((o) => `snippet:${o}`));
    for (const name of [...this.scripts.keys()]) {
      if (name.startsWith('snippet:') && !names.has(name) && this.snippetCode.has(name)) {
        this.unload(name);
        this.snippetCode.delete(name);
      }
    }
  }

  private async runFreshSnippet(
    origin: string,
    code: string,
    language: Language,
    globals: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ error?: string }> {
    const { file, source } = snippetSource(origin, code);
    const name = `snippet:${origin}:${++this.snippets}`;
    const script = await this.load(file, { name, globals, language, storage: `snippet:${origin}` }, source);
    try {
      while (!script.idle && !signal?.aborted) await new Promise((r) => setTimeout(r, 5));
      const err = script.logs.find((l) => l.level === 'error');
      return err ? { error: err.message } : {};
    } finally {
      this.unload(name);
    }
  }

  private snippets = 0;

  unload(name: string): void {
    const s = this.scripts.get(name);
    if (!s) return;
    this.ctx.timers?.release(name);
    this.inputs.detach(name);
    s.sandbox.dispose();
    this.scripts.delete(name);
  }

  /** Hands a due named timer to the script's Timer.on handler; its error is the script's, located. */
  async deliverTimer(name: string, t: { name: string; data: unknown; due: string; late_ms: number }): Promise<void> {
    const script = this.scripts.get(name);
    if (!script) return;
    const { error } = await script.sandbox.invoke('__smartHomeTimer', [t]);
    if (error) this.reportGuestError(script, error);
  }

  /**
   * Whether a script (but those `except`) has work under way that needs no clock to move: messages
   * queued for it, publishes or host calls in flight. Its timers do not count (a test's clock
   * moves them). The simulated home of smart-home test settles on it.
   */
  busy(except?: (name: string) => boolean): string | undefined {
    for (const s of this.scripts.values()) {
      if (except?.(s.name)) continue;
      if (s.sandbox.pendingPublishes > 0 || (this.inputs.stats(s.name)?.queued ?? 0) > 0) return s.name;
    }
    return undefined;
  }

  /** Resolves when the script has no timers and no publishes in flight (for `smart-home run`). */
  async whenIdle(script: Script, pollMs = 10, timeoutMs = Infinity): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!script.idle && Date.now() < deadline) await new Promise((r) => setTimeout(r, pollMs));
    // let settled publishes' callbacks run inside the guest
    await new Promise((r) => setImmediate(r));
  }

  /** The user-facing text of an error thrown in the sandbox, located in the user's source. */
  describeGuestError(
    compiled: CompiledScript,
    err: GuestError,
    at: { colShift?: number; frameSource?: string } = {},
  ): { text: string; location?: Location } {
    let location = this.locateStack(compiled, err.stack);
    if (location && at.colShift) location = { ...location, col: location.col + at.colShift };
    let headline = `${err.name}: ${err.message}`;
    if (err.message.startsWith('interrupted') || err.message.startsWith('out of memory')) {
      // QuickJS knows only where the running function starts, not the statement it was on.
      const fn = /at (\S+) \(/.exec(err.stack)?.[1];
      if (fn && fn !== '<eval>' && location) headline += ` (in function ${fn}, declared at line ${location.line})`;
      else headline += ' (in the top level of the script)';
      if (!fn || fn === '<eval>') location = undefined;
    }
    if (!location) return { text: `${compiled.file}: ${headline}` };
    return {
      text: `${formatLocated(location, headline)}\n${codeFrame(at.frameSource ?? (location.file === compiled.file ? compiled.source : (compiled.sourceOf(location.file) ?? compiled.source)), location)}`,
      location,
    };
  }

  /** Host code serving `script` failed (or its runtime is torn): the script is stopped, the hub goes on. */
  private stopFaulted(script: Script, reason: string): void {
    script.errors++;
    this.counters.stopped++;
    this.logTo(
      script,
      'error',
      `${script.compiled.file}: ${reason}; the script was stopped (save it or run it again to restart it)`,
    );
    // not from inside the call that is failing: unload once it has unwound
    setImmediate(() => {
      if (this.scripts.get(script.name) === script) this.unload(script.name);
    });
  }

  private reportGuestError(script: Script, err: GuestError): void {
    script.errors++;
    let described: { text: string; location?: Location };
    try {
      described = this.describeGuestError(script.compiled, err);
    } catch (e) {
      // never let what a script threw take the host down: report it unlocated
      described = {
        text: `${script.compiled.file}: ${err.name}: ${err.message} (could not be located: ${(e as Error).message})`,
      };
    }
    const { text, location } = described;
    if (location) script.lastError = { line: location.line, col: location.col, message: `${err.name}: ${err.message}` };
    this.logTo(script, 'error', text);
  }

  private fail(script: Script, message: string, location: Location | undefined): void {
    script.errors++;
    if (location) script.lastError = { line: location.line, col: location.col, message };
    const text = location
      ? `${formatLocated(location, message)}\n${codeFrame(script.compiled.source, location)}`
      : `${script.compiled.file}: ${message}`;
    this.logTo(script, 'error', text);
  }

  private logTo(script: Script, level: ScriptLogEvent['level'], message: string): void {
    // bounded in lines and in bytes: a script's log is host memory (80 lines of 4 MiB once took 360 MB)
    const limits = this.ctx.limits;
    const event: ScriptLogEvent = {
      script: script.name,
      level,
      message: boundedText(message, limits.max_log_line_kb * 1024),
      time: Date.now(),
    };
    script.logs.push(event);
    script.logBytes += event.message.length;
    let drop = 0;
    while (
      script.logs.length - drop > limits.log_lines ||
      (script.logBytes > limits.log_kb * 1024 && script.logs.length - drop > 1)
    ) {
      script.logBytes -= script.logs[drop]!.message.length;
      drop++;
    }
    if (drop > 0) script.logs.splice(0, drop);
    this.ctx.events.emit('script.log', event);
    this.ctx.log[level]({ script: script.name }, message);
  }

  /** First stack frame in the user's file, mapped to the original source (cached: a loop repeats its stack). */
  private locateStack(compiled: CompiledScript, stack: string): Location | undefined {
    const cache = (this.stackCache.get(compiled) ?? this.stackCache.set(compiled, new Map()).get(compiled))!;
    if (cache.has(stack)) return cache.get(stack);
    let found: Location | undefined;
    for (const frame of framesOf(stack)) {
      found = this.locateSite(compiled, frame);
      if (found) break;
    }
    if (cache.size >= 1000) cache.clear();
    if (stack.length <= 4096) cache.set(stack, found);
    return found;
  }

  private readonly stackCache = new WeakMap<CompiledScript, Map<string, Location | undefined>>();

  /** "file:line:col" (as QuickJS writes it) -> the user's location, if it is in this script. */
  locateSite(compiled: CompiledScript, frame: string): Location | undefined {
    const site = parseFrame(frame);
    if (!site || site.file !== compiled.evalName) return undefined;
    return compiled.locate(site.line, site.col);
  }
}

/** Does compiled JavaScript (or a CoffeeScript source) define a function `name` (function, const, let, var or assignment)? */
export function definesFunction(code: string, name: string): boolean {
  return new RegExp(
    `\\bfunction\\s*\\*?\\s+${name}\\s*\\(|(^|[^.\\w$])${name}\\s*=\\s*(function\\b|\\(|async\\b|[A-Za-z_$][\\w$]*\\s*=>|[-=]>)`,
    'm',
  ).test(code);
}

/** Does compiled JavaScript define a global entityAction function? */
export function definesEntityAction(code: string): boolean {
  return definesFunction(code, 'entityAction');
}

/** Does a script define any of the functions e154 calls in an entity's script? */
/** e154's automation callbacks, called by an automation's script_file: steps. */
export const AUTOMATION_CALLBACKS = [
  'automationTriggerTime',
  'automationTriggerStateChanged',
  'automationTriggerSystem',
  'automationTriggerMqtt',
  'automationCondition',
  'automationAction',
] as const;

export function definesAutomationCallbacks(code: string): boolean {
  return AUTOMATION_CALLBACKS.some((n) => definesFunction(code, n));
}

export function definesConventions(code: string): boolean {
  return ENTITY_CONVENTIONS.some((n) => definesFunction(code, n));
}

function entityScriptName(entityId: string): string {
  return `entity:${entityId}`;
}

/** "path:line" -> the file name to report and the code shifted down to that line. */
/**
 * A snippet's origin is "file:line:col" of its code in its file (an automation in
 * automations.yaml): the source is padded with blank lines so lines are the file's, and `col`
 * is added to the columns the sandbox reports (a YAML block's indentation, or where an inline
 * value starts), so an error points at the file's own line and column.
 */
export function snippetSource(origin: string, code: string): { file: string; source: string; colShift: number } {
  const m = /^(.*?):(\d+)(?::(\d+))?$/.exec(origin);
  if (!m) return { file: origin, source: code, colShift: 0 };
  return {
    file: m[1]!,
    source: '\n'.repeat(Math.max(0, Number(m[2]) - 1)) + code,
    colShift: m[3] ? Number(m[3]) - 1 : 0,
  };
}

/** A test of scripts (`hall.test.ts`): run by smart-home test, never started as a script. */
export function isTestFile(file: string): boolean {
  return /\.test\.(js|ts|coffee)$/.test(file);
}
