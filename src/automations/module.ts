// Automations: loaded from automations.yaml in the data dir (reloaded when it changes), persisted,
// run by one AutomationRunner each. A bad file changes nothing: every automation is validated
// first, and only then are the changed ones swapped; unchanged ones keep running.
import { existsSync, readFileSync, renameSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { Document, isScalar, isSeq, parseDocument, type Scalar } from 'yaml';
import type { Db } from '../store/db.js';
import { AutomationStore } from '../store/automations.js';
import { WaitStore } from '../store/waits.js';
import { metaGet, metaSet } from '../store/meta.js';
import { realClock } from '../clock.js';
import { preparePublish, PublishTemplateError } from './actions/publish.js';
import { loadSecrets, resolveSecrets } from '../config/secrets.js';
import { readYaml, describeIssues, locate, position, YamlError, type LoadedYaml } from '../config/yaml.js';
import { compileOffThread } from '../scripts/compiler/pool.js';
import { ScriptError, codeFrame, formatLocated } from '../scripts/errors.js';
import { snippetSource } from '../scripts/engine.js';
import { automationsFileSchema, type Automation } from './schema.js';
import { checkCron } from './triggers/time.js';
import { compileValue } from './templates.js';
import { didYouMean } from '../config/suggest.js';
import { AutomationRunner } from './runner.js';
import { RunTrace, type Run } from './trace.js';
import { capture } from '../mqtt/topic.js';
import type { AutomationContext, NearMiss, ScriptRunner, TriggerEvent } from './types.js';

const ALIVE_KEY = 'automations.alive';
const FIRED_PREFIX = 'automations.fired ';
const HEARTBEAT_MS = 30_000;
/** Near misses kept per automation (a ring: a flood of messages that do not match cannot grow it). */
const NEAR_MISSES = 20;

export interface AutomationsContext extends Omit<AutomationContext, 'scripts'> {
  db: Db;
  file: string;
  /** Where script conditions and actions run; given the YAML origin so errors point into the file. */
  scripts: ScriptRunner;
  watch?: boolean;
}

export interface AutomationInfo {
  id: string;
  name?: string;
  enabled: boolean;
  mode: string;
  triggers: string[];
  running: boolean;
  /** Why an enabled automation is not running: its start failed (the error), until it starts. */
  error?: string;
  lastRun?: Run;
  /** Since the hub started: runs started, runs refused by the mode, runs in progress now. */
  runs: number;
  dropped: number;
  inProgress: number;
  /** What its runs and `for:` triggers wait for (kept across restarts): a delay, a wait_for, a state held. */
  waiting: { kind: string; step: string; deadline: number }[];
  /** Since the hub started: finished runs by outcome, and the messages and events that came close (nearMisses). */
  health: { ok: number; failed: number; other: number; nearMisses: number };
}

interface Origin {
  file: string;
  line: number;
  col: number;
}

export class AutomationsModule {
  private readonly runners = new Map<string, AutomationRunner>();
  /** The error of the last start of an automation that could not start (cleared when one succeeds). */
  private readonly startErrors = new Map<string, string>();
  private definitions = new Map<string, Automation>();
  readonly trace: RunTrace;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  /** label of a script step -> where its code sits in the YAML file */
  private readonly origins = new Map<string, Origin>();
  lastError?: string;

  private readonly store: AutomationStore;
  /** What runs and `for:` triggers wait for, kept across restarts. */
  readonly waits: WaitStore;
  private heartbeat?: NodeJS.Timeout;
  /** The heartbeat before this start (undefined on a first start). */
  private lastAlive?: number;
  /** Since the hub started, per automation: runs by outcome, and the near misses (the newest NEAR_MISSES). */
  private readonly health = new Map<
    string,
    { ok: number; failed: number; other: number; missed: number; misses: NearMiss[] }
  >();
  private healthOf(id: string) {
    let h = this.health.get(id);
    if (!h) this.health.set(id, (h = { ok: 0, failed: 0, other: 0, missed: 0, misses: [] }));
    return h;
  }
  private readonly nearMiss = (automation: string, miss: NearMiss) => {
    const h = this.healthOf(automation);
    h.missed++;
    h.misses.push({ ...miss, what: miss.what.slice(0, 200), reason: miss.reason.slice(0, 300) });
    if (h.misses.length > NEAR_MISSES) h.misses.shift();
  };

  /** The automations whose mqtt triggers look at `topic`, each with its latest near miss on it, if any. */
  listenersOf(
    topic: string,
  ): { automation: string; step: string; filter: string; enabled: boolean; lastMiss?: NearMiss }[] {
    return [...this.definitions.values()].flatMap((a) =>
      a.triggers.flatMap((t, i) => {
        if (t.type !== 'mqtt' || !capture(t.topic, topic)) return [];
        const lastMiss = this.nearMisses(a.id).find((m) => m.what === topic && m.step === `triggers[${i}]`);
        return [
          {
            automation: a.id,
            step: `triggers[${i}]`,
            filter: t.topic,
            enabled: this.isEnabled(a),
            ...(lastMiss ? { lastMiss } : {}),
          },
        ];
      }),
    );
  }

  /** Why it did not run, lately: messages and events that came close (newest first). */
  nearMisses(id: string): NearMiss[] {
    return [...(this.health.get(id)?.misses ?? [])].reverse();
  }

  /** When each schedule last fired, kept in the meta table. */
  private readonly fired = {
    get: (key: string) => {
      const v = metaGet(this.ctx.db, `${FIRED_PREFIX}${key}`);
      return v === undefined ? undefined : Number(v);
    },
    set: (key: string, time: number) => metaSet(this.ctx.db, `${FIRED_PREFIX}${key}`, String(time)),
  };

  constructor(private readonly ctx: AutomationsContext) {
    this.store = new AutomationStore(ctx.db);
    this.waits = ctx.waits ?? new WaitStore(ctx.db);
    this.trace = new RunTrace(ctx.db);
    this.trace.onFinish = (run) => {
      const h = this.healthOf(run.automation);
      h[run.status === 'ok' ? 'ok' : run.status === 'failed' ? 'failed' : 'other']++;
      if (!ctx.events.has('automation.run')) return;
      const error = run.steps.find((s) => s.error)?.error;
      ctx.events.emit('automation.run', {
        automation: run.automation,
        id: run.id,
        status: run.status,
        started: run.started,
        finished: run.finished,
        error,
      });
    };
  }

  async start(): Promise<void> {
    // the heartbeat: when the hub was last seen running bounds the downtime a schedule's catch-up looks at
    const alive = metaGet(this.ctx.db, ALIVE_KEY);
    this.lastAlive = alive === undefined ? undefined : Number(alive);
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    if (existsSync(this.ctx.file)) {
      const err = await this.reload();
      if (err) this.ctx.log.error(err);
    }
    // only the runners of this start look back at the downtime; one added later never does
    this.lastAlive = undefined;
    if (this.ctx.watch !== false) this.watchFile();
  }

  private beat(): void {
    metaSet(this.ctx.db, ALIVE_KEY, String((this.ctx.clock ?? realClock).now()));
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.watcher?.close();
    if (this.debounce) clearTimeout(this.debounce);
    // runs in progress (e.g. started by a system "stopping" trigger) get a moment to finish
    await Promise.all([...this.runners.values()].map((r) => r.stop(2000, 'shutdown')));
    this.runners.clear();
    this.trace.flush();
    this.beat();
  }

  /** Reads the file again. Returns the error text, or undefined when it was applied. */
  async reload(text?: string): Promise<string | undefined> {
    let next: Automation[];
    try {
      next = await this.parse(text);
    } catch (err) {
      this.lastError = (err as Error).message;
      return `automations not reloaded, the running ones go on: ${this.lastError}`;
    }
    this.lastError = undefined;
    const nextIds = new Set(next.map((a) => a.id));
    for (const [id, runner] of this.runners) {
      const def = next.find((a) => a.id === id);
      if (!def || JSON.stringify(def) !== JSON.stringify(runner.automation) || !this.isEnabled(def)) {
        await runner.stop();
        this.runners.delete(id);
      }
    }
    this.store.replace(
      next.map((a) => [a.id, JSON.stringify(a)]),
      [...this.definitions.keys()].filter((id) => !nextIds.has(id)),
    );
    this.definitions = new Map(next.map((a) => [a.id, a]));
    for (const id of this.startErrors.keys()) if (!nextIds.has(id)) this.startErrors.delete(id);
    // waits of automations taken out or disabled (while the hub was down, too) go with them
    const live = new Set(next.filter((a) => this.isEnabled(a)).map((a) => a.id));
    for (const w of this.waits.all()) if (!live.has(w.automation)) this.waits.remove(w.id);
    for (const a of next) if (!this.runners.has(a.id) && this.isEnabled(a)) await this.startRunner(a);
    this.ctx.scripts.forget?.([...this.origins.values()].map(originOf));
    this.ctx.log.info({ automations: next.length, running: this.runners.size }, 'automations loaded');
    return undefined;
  }

  /** The automations file as text ('' when there is none). */
  text(): string {
    return existsSync(this.ctx.file) ? readFileSync(this.ctx.file, 'utf8') : '';
  }

  /** Validates `text`; if it is good, applies it and writes the file. Returns the error, if any. */
  async save(text: string): Promise<string | undefined> {
    const err = await this.reload(text);
    if (err) return err;
    const tmp = `${this.ctx.file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.ctx.file);
    return undefined;
  }

  /** Adds or replaces one automation in the file (comments and the others are kept). */
  async put(definition: Record<string, unknown> & { id: string }): Promise<string | undefined> {
    return this.edit((items) => {
      const i = items.findIndex((a) => a === definition.id);
      return i >= 0 ? { index: i, value: definition } : { index: -1, value: definition };
    });
  }

  /** Removes one automation from the file; false when there is no such automation. */
  async remove(id: string): Promise<string | undefined | false> {
    if (!this.definitions.has(id)) return false;
    return this.edit((items) => ({ index: items.indexOf(id), value: undefined }));
  }

  private async edit(
    change: (ids: (string | undefined)[]) => { index: number; value: unknown },
  ): Promise<string | undefined> {
    const text = this.text();
    const doc = (text.trim() ? parseDocument(text) : new Document([])) as Document;
    if (doc.errors.length > 0) return `${this.ctx.file} has errors; fix the file first: ${doc.errors[0]!.message}`;
    const seq = doc.contents;
    if (!isSeq(seq)) return `${this.ctx.file}: the file must be a list of automations`;
    const ids = seq.items.map((_n, i) => doc.getIn([i, 'id']) as string | undefined);
    const { index, value } = change(ids);
    if (value === undefined) seq.items.splice(index, 1);
    else if (index >= 0) seq.items[index] = doc.createNode(value);
    else seq.items.push(doc.createNode(value));
    return this.save(doc.toString());
  }

  list(): AutomationInfo[] {
    return [...this.definitions.values()].map((a) => ({
      id: a.id,
      name: a.name,
      enabled: this.isEnabled(a),
      mode: a.mode,
      triggers: a.triggers.map((t) => t.type),
      running: this.runners.has(a.id),
      ...(this.startErrors.has(a.id) && this.isEnabled(a) ? { error: this.startErrors.get(a.id) } : {}),
      lastRun: this.trace.last(a.id),
      runs: this.runners.get(a.id)?.runs ?? 0,
      dropped: this.runners.get(a.id)?.dropped ?? 0,
      inProgress: this.runners.get(a.id)?.inProgress ?? 0,
      waiting: this.waits.of(a.id).map((w) => ({ kind: w.kind, step: w.step, deadline: w.deadline })),
      health: (({ ok, failed, other, missed }) => ({ ok, failed, other, nearMisses: missed }))(this.healthOf(a.id)),
    }));
  }

  runs(id: string, limit = 20, status?: string): Run[] {
    return this.trace.runs(id, limit, status);
  }

  /** Run `run` of automation `id` among its last 100, for a replay (dry or live). */
  pastRun(id: string, run: number): Run | undefined {
    return this.runs(id, 100).find((r) => r.id === run);
  }

  async setEnabled(id: string, enabled: boolean): Promise<void> {
    const def = this.definitions.get(id);
    if (!def) throw new Error(`no automation "${id}"`);
    this.store.setEnabled(id, enabled);
    const runner = this.runners.get(id);
    if (!this.isEnabled(def) && runner) {
      await runner.stop();
      this.runners.delete(id);
    }
    if (this.isEnabled(def) && !runner) await this.startRunner(def);
  }

  /** An automation with a run under way that is not asleep on the clock, if one is. */
  busy(): string | undefined {
    for (const [id, r] of this.runners) if (r.busy) return id;
    return undefined;
  }

  /** Runs an automation now (conditions still apply). */
  trigger(id: string, event: Partial<TriggerEvent> = {}): void {
    const runner = this.runners.get(id);
    if (!runner) throw new Error(`no running automation "${id}"`);
    runner.fire({ type: 'manual', time: (this.ctx.clock ?? realClock).now(), description: 'run by hand', ...event });
  }

  private isEnabled(a: Automation): boolean {
    return a.enabled && this.store.enabled(a.id);
  }

  private async startRunner(a: Automation): Promise<void> {
    const scripts: ScriptRunner = {
      evaluate: (label, expr, globals) => this.ctx.scripts.evaluate(this.originLabel(label), expr, globals),
      run: (label, code, lang, globals, signal) =>
        this.ctx.scripts.run(this.originLabel(label), code, lang, globals, signal),
      callFile: this.ctx.scripts.callFile,
    };
    const runner = new AutomationRunner(
      a,
      {
        ...this.ctx,
        scripts,
        waits: this.waits,
        fired: this.fired,
        nearMiss: this.nearMiss,
        sleeping: { n: 0 },
        ...(this.lastAlive !== undefined ? { lastAlive: this.lastAlive } : {}),
      },
      this.trace,
      path.basename(this.ctx.file),
    );
    this.runners.set(a.id, runner);
    try {
      await runner.start();
      this.startErrors.delete(a.id);
    } catch (err) {
      this.startErrors.set(a.id, (err as Error).message);
      this.ctx.log.error({ automation: a.id, err: (err as Error).message }, 'automation could not start');
      await runner.stop();
      this.runners.delete(a.id);
    }
  }

  /** "file#id.actions[0]" -> "file:line" for the script engine, so errors are located in the YAML. */
  private originLabel(label: string): string {
    const o = this.origins.get(label.slice(label.indexOf('#') + 1));
    return o ? originOf(o) : label;
  }

  private async parse(text?: string): Promise<Automation[]> {
    let loaded: LoadedYaml;
    try {
      loaded = readYaml(this.ctx.file, 'automations file', text);
    } catch (err) {
      throw err instanceof YamlError ? err : new Error(String(err));
    }
    const data = loaded.data ?? [];
    if (loaded.text.includes('!secret'))
      resolveSecrets(data, loadSecrets(path.dirname(this.ctx.file)), (keyPath) => locate(loaded, keyPath));
    const result = automationsFileSchema.safeParse(data);
    if (!result.success) throw new Error(describeIssues(result.error.issues, loaded, automationsFileSchema, data));
    const origins = new Map<string, Origin>();
    const compiles: { where: string; colShift: number; run: () => Promise<unknown> }[] = [];
    result.data.forEach((a, i) => {
      const noHome = (path: (string | number)[], what: string) => {
        if (!this.ctx.sun)
          throw new Error(
            `${locate(loaded, [i, ...path])}: ${a.id}.${what}: needs to know where the home is: add home: {latitude, longitude} to smart-home.yaml`,
          );
      };
      a.triggers.forEach((t, j) => t.type === 'sun' && noHome(['triggers', j], `triggers[${j}] (sun)`));
      a.conditions.forEach((c, j) => c.type === 'sun' && noHome(['conditions', j], `conditions[${j}] (sun)`));
      a.triggers.forEach((t, j) => {
        if (t.type !== 'time') return;
        try {
          checkCron(t);
        } catch (err) {
          throw new Error(
            `${locate(loaded, [i, 'triggers', j, 'cron'])}: ${a.id}.triggers[${j}].cron: ${(err as Error).message}`,
          );
        }
      });
      a.actions.forEach((s, j) => {
        if (s.type !== 'notify') return;
        const targets = this.ctx.notify?.targets ?? [];
        if (!targets.includes(s.target))
          throw new Error(
            `${locate(loaded, [i, 'actions', j, 'target'])}: ${a.id}.actions[${j}].target: no notification target "${s.target}"${didYouMean(s.target, targets)}; ${targets.length ? `notify.targets has: ${targets.join(', ')}` : 'declare one under notify.targets in smart-home.yaml'}`,
          );
        for (const key of ['message', 'title'] as const) {
          if (s[key] === undefined) continue;
          try {
            compileValue(s[key]);
          } catch (err) {
            throw new Error(
              `${locate(loaded, [i, 'actions', j, key])}: ${a.id}.actions[${j}].${key}: ${(err as Error).message}`,
            );
          }
        }
      });
      a.actions.forEach((s, j) => {
        if (s.type !== 'publish') return;
        try {
          preparePublish(s);
        } catch (err) {
          if (!(err instanceof PublishTemplateError)) throw err;
          const key = err.field;
          throw new Error(
            `${locate(loaded, [i, 'actions', j, key])}: ${a.id}.actions[${j}].${key}: ${(err as Error).message}; templates support {{ trigger.json.x }}, value_json, filters (float, int, round, default, tojson, …) and {% if %} (see the README)`,
          );
        }
      });
      // a script step has its code in the file, or names a script_file (e154's callbacks): one of the two
      for (const [kind, list, key] of [
        ['conditions', a.conditions, 'expression'],
        ['actions', a.actions, 'code'],
      ] as const)
        list.forEach((c, j) => {
          if (c.type !== 'script') return;
          const code = (c as Record<string, unknown>)[key];
          if ((code === undefined) === (c.script_file === undefined))
            throw new Error(
              `${locate(loaded, [i, kind, j])}: ${a.id}.${kind}[${j}]: a script step needs ${key} or script_file (one of the two)`,
            );
        });
      const scriptSteps: [string, number, string, 'js' | 'ts' | 'coffee', string][] = [
        ...a.conditions.map((c, j) =>
          c.type === 'script' && c.expression !== undefined
            ? ['conditions', j, c.expression, 'js', 'expression']
            : null,
        ),
        ...a.actions.map((s, j) =>
          s.type === 'script' && s.code !== undefined ? ['actions', j, s.code, s.language, 'code'] : null,
        ),
      ].filter((x): x is [string, number, string, 'js' | 'ts' | 'coffee', string] => x !== null);
      for (const [kind, j, code, language, key] of scriptSteps) {
        const origin = { file: this.ctx.file, ...codeStart(loaded, [i, kind, j, key]) };
        origins.set(`${a.id}.${kind}[${j}]`, origin);
        const { source, colShift } = snippetSource(originOf(origin), code);
        // a condition is an expression: checked as one, as it runs (`return (expression)`)
        const checked = kind === 'conditions' ? `(${source}\n)` : source;
        compiles.push({
          where: `${a.id}.${kind}[${j}]`,
          colShift,
          run: () => compileOffThread(`${this.ctx.file}.${language}`, checked, language),
        });
      }
    });
    // compiled off the main thread, in order: the first error is the one reported
    for (const c of compiles) {
      try {
        await c.run();
      } catch (err) {
        if (!(err instanceof ScriptError)) throw err;
        const at = { file: this.ctx.file, line: err.location.line, col: err.location.col + c.colShift };
        throw new Error(
          `${formatLocated(at, `${c.where}: ${err.kind}: ${err.detail}`)}\n${codeFrame(loaded.text, at)}`,
        );
      }
    }
    this.origins.clear();
    for (const [k, v] of origins) this.origins.set(k, v);
    return result.data;
  }

  private watchFile(): void {
    const dir = path.dirname(this.ctx.file);
    if (!existsSync(dir)) return;
    try {
      this.watcher = watch(dir, (_event, name) => {
        if (name !== path.basename(this.ctx.file)) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
          if (!existsSync(this.ctx.file)) return;
          void this.reload().then((err) => {
            if (err) this.ctx.log.error(err);
          });
        }, 200);
      });
    } catch (err) {
      this.ctx.log.warn(
        { err: (err as Error).message },
        'cannot watch the automations file; reload it through the API',
      );
    }
  }
}

const originOf = (o: Origin) => `${o.file}:${o.line}:${o.col}`;

/**
 * Where a script's code starts in the YAML file, as line and column: an inline value where it
 * starts (inside its quote), a block (`|`) on the line after its header, at its indentation.
 */
function codeStart(loaded: LoadedYaml, keyPath: (string | number)[]): { line: number; col: number } {
  const node = loaded.doc.getIn(keyPath, true);
  const type = isScalar(node) ? (node as Scalar).type : undefined;
  const at = position(loaded, keyPath, true);
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    const lines = loaded.text.split(/\r?\n/);
    let n = at.line; // the header line (`code: |`); content starts below it
    while (n < lines.length && lines[n]!.trim() === '') n++;
    const indent = /^ */.exec(lines[n] ?? '')![0].length;
    return { line: at.line + 1, col: indent + 1 };
  }
  return { line: at.line, col: at.col + (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? 1 : 0) };
}
