// Loads scripts, gives each a sandbox with the bindings, keeps their logs, and reports every
// error at the user's own file:line:col.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { ScriptLimits } from '../config/schema.js';
import type { EventBus, ScriptLogEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { MqttBus } from '../mqtt/bus.js';
import { compileScript, type CompiledScript } from './compile.js';
import { codeFrame, formatLocated, ScriptError, type Location } from './errors.js';
import { Sandbox, type GuestError } from './sandbox.js';
import { publishBinding } from './bindings/mqtt.js';

export interface EngineContext {
  limits: ScriptLimits;
  bus: MqttBus;
  events: EventBus;
  log: Logger;
  /** Directory whose .js/.ts/.coffee files are loaded on start, if it exists. */
  dir?: string;
}

export interface ScriptInfo { name: string; file: string; language: string; errors: number; pendingPublishes: number }

export interface LoadOptions { globals?: Record<string, unknown>; name?: string }

export class Script {
  readonly logs: ScriptLogEvent[] = [];
  errors = 0;
  constructor(readonly name: string, readonly compiled: CompiledScript, readonly sandbox: Sandbox) {}

  get idle(): boolean { return this.sandbox.idle; }
}

export class ScriptEngine {
  private readonly scripts = new Map<string, Script>();

  constructor(private readonly ctx: EngineContext) {}

  async start(): Promise<void> {
    const dir = this.ctx.dir;
    if (!dir || !existsSync(dir)) return;
    for (const f of readdirSync(dir).filter((f) => /\.(js|ts|coffee)$/.test(f)).sort()) {
      try {
        await this.load(path.join(dir, f));
      } catch (err) {
        // One bad script does not keep the others (or the hub) from starting.
        this.ctx.log.error({ script: f }, err instanceof ScriptError ? err.report : String(err));
      }
    }
  }

  async stop(): Promise<void> {
    for (const name of [...this.scripts.keys()]) this.unload(name);
  }

  list(): ScriptInfo[] {
    return [...this.scripts.values()].map((s) => ({
      name: s.name, file: s.compiled.file, language: s.compiled.language, errors: s.errors, pendingPublishes: s.sandbox.pendingPublishes,
    }));
  }

  get(name: string): Script | undefined { return this.scripts.get(name); }

  /**
   * Compiles and starts a script (its top level runs once). A compile error throws a
   * ScriptError; a runtime error at the top level is logged to the script's log and counted.
   */
  async load(file: string, opts: LoadOptions = {}, source = readFileSync(file, 'utf8')): Promise<Script> {
    const compiled = compileScript(file, source);
    const name = opts.name ?? path.basename(file);
    this.unload(name);
    let script: Script | undefined;
    const sandbox = await Sandbox.create(this.ctx.limits, {
      publish: publishBinding(this.ctx.bus, compiled, (stack) => this.locateStack(compiled, stack)),
      log: (level, text) => script && this.logTo(script, level, text),
      unhandled: (message, stack) => script && this.fail(script, `unhandled rejection of Mqtt.publish: ${message}`, this.locateStack(compiled, stack)),
      uncaught: (err) => script && this.reportGuestError(script, err),
    });
    script = new Script(name, compiled, sandbox);
    this.scripts.set(name, script);
    if (opts.globals) sandbox.setGlobals(opts.globals);
    const err = sandbox.run(compiled.code, compiled.evalName);
    if (err) this.reportGuestError(script, err);
    return script;
  }

  unload(name: string): void {
    const s = this.scripts.get(name);
    if (!s) return;
    s.sandbox.dispose();
    this.scripts.delete(name);
  }

  /** Resolves when the script has no timers and no publishes in flight (for `smart-home run`). */
  async whenIdle(script: Script, pollMs = 10): Promise<void> {
    while (!script.idle) await new Promise((r) => setTimeout(r, pollMs));
    // let settled publishes' callbacks run inside the guest
    await new Promise((r) => setImmediate(r));
  }

  /** The user-facing text of an error thrown in the sandbox, located in the user's source. */
  describeGuestError(script: Script, err: GuestError): { text: string; location?: Location } {
    let location = this.locateStack(script.compiled, err.stack);
    let headline = `${err.name}: ${err.message}`;
    if (err.message.startsWith('interrupted') || err.message.startsWith('out of memory')) {
      // QuickJS knows only where the running function starts, not the statement it was on.
      const fn = /at (\S+) \(/.exec(err.stack)?.[1];
      if (fn && fn !== '<eval>' && location) headline += ` (in function ${fn}, declared at line ${location.line})`;
      else headline += ' (in the top level of the script)';
      if (!fn || fn === '<eval>') location = undefined;
    }
    if (!location) return { text: `${script.compiled.file}: ${headline}` };
    return { text: `${formatLocated(location, headline)}\n${codeFrame(script.compiled.source, location)}`, location };
  }

  private reportGuestError(script: Script, err: GuestError): void {
    script.errors++;
    const { text } = this.describeGuestError(script, err);
    this.logTo(script, 'error', text);
  }

  private fail(script: Script, message: string, location: Location | undefined): void {
    script.errors++;
    const text = location ? `${formatLocated(location, message)}\n${codeFrame(script.compiled.source, location)}` : `${script.compiled.file}: ${message}`;
    this.logTo(script, 'error', text);
  }

  private logTo(script: Script, level: ScriptLogEvent['level'], message: string): void {
    const event: ScriptLogEvent = { script: script.name, level, message, time: Date.now() };
    script.logs.push(event);
    if (script.logs.length > this.ctx.limits.log_lines) script.logs.splice(0, script.logs.length - this.ctx.limits.log_lines);
    this.ctx.events.emit('script.log', event);
    this.ctx.log[level]({ script: script.name }, message);
  }

  /** First stack frame in the user's file, mapped to the original source (cached: a loop repeats its stack). */
  private locateStack(compiled: CompiledScript, stack: string): Location | undefined {
    const cache = (this.stackCache.get(compiled) ?? this.stackCache.set(compiled, new Map()).get(compiled))!;
    if (cache.has(stack)) return cache.get(stack);
    let found: Location | undefined;
    for (const line of stack.split('\n')) {
      found = this.locateSite(compiled, line);
      if (found) break;
    }
    if (cache.size >= 1000) cache.clear();
    cache.set(stack, found);
    return found;
  }

  private readonly stackCache = new WeakMap<CompiledScript, Map<string, Location | undefined>>();

  /** "file:line:col" (as QuickJS writes it) -> the user's location, if it is in this script. */
  locateSite(compiled: CompiledScript, site: string): Location | undefined {
    const m = /([^()\s]+):(\d+):(\d+)\)?\s*$/.exec(site) ?? /([^()\s]+):(\d+)\)?\s*$/.exec(site);
    if (!m || m[1] !== compiled.evalName) return undefined;
    return compiled.locate(Number(m[2]), Number(m[3] ?? 1));
  }
}
