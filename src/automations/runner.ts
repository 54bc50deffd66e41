// Runs one automation: its triggers, the mode (single, queued, restart, parallel, as in Home
// Assistant), conditions then actions, each step recorded in the trace. A failing step ends
// its run (recorded with the error) and never touches other automations.
import type { Automation } from './schema.js';
import type { AutomationContext, Trigger, TriggerEvent } from './types.js';
import { triggers } from './triggers/index.js';
import { conditions } from './conditions/index.js';
import { actions } from './actions/index.js';
import type { RunTrace, Step } from './trace.js';

interface Active {
  controller: AbortController;
  done: Promise<void>;
}

const TRIGGER_CALLBACKS: Record<string, string> = {
  time: 'automationTriggerTime',
  state: 'automationTriggerStateChanged',
  system: 'automationTriggerSystem',
  mqtt: 'automationTriggerMqtt',
};

export class AutomationRunner {
  private readonly triggers: Trigger[];
  private readonly active = new Set<Active>();
  private readonly queue: TriggerEvent[] = [];
  private stopped = false;
  runs = 0;
  dropped = 0;
  get inProgress(): number {
    return this.active.size;
  }

  constructor(
    readonly automation: Automation,
    private readonly ctx: AutomationContext,
    private readonly trace: RunTrace,
    private readonly file: string,
  ) {
    this.triggers = automation.triggers.map((t) => {
      const factory = triggers[t.type] as (
        c: typeof t,
        ctx: AutomationContext,
        fire: (e: TriggerEvent) => void,
      ) => Trigger;
      const scriptFile = 'script_file' in t ? t.script_file : undefined;
      return factory(t, ctx, (e) => this.fire(scriptFile ? { ...e, scriptFile } : e));
    });
  }

  async start(): Promise<void> {
    for (const t of this.triggers) await t.start();
  }

  /** Stops the triggers; runs in progress get `graceMs` to finish, then are cancelled. */
  async stop(graceMs = 0): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    for (const t of this.triggers) await t.stop().catch(() => {});
    if (graceMs > 0 && this.active.size > 0) {
      await Promise.race([
        Promise.all([...this.active].map((a) => a.done)),
        new Promise((r) => setTimeout(r, graceMs)),
      ]);
    }
    for (const a of this.active) a.controller.abort();
    await Promise.all([...this.active].map((a) => a.done));
  }

  /** Runs the automation now, as if a trigger fired (for the API and tests). */
  fire(event: TriggerEvent): void {
    if (this.stopped) return;
    const { mode, max, id } = this.automation;
    if (this.active.size > 0) {
      if (mode === 'single') return this.drop(event, 'already running (mode single)');
      if (mode === 'queued') {
        if (this.queue.length >= max) return this.drop(event, `queue full (mode queued, max ${max})`);
        this.queue.push(event);
        return;
      }
      if (mode === 'restart') for (const a of this.active) a.controller.abort();
      if (mode === 'parallel' && this.active.size >= max)
        return this.drop(event, `${max} runs already in progress (mode parallel)`);
    }
    this.ctx.log.debug({ automation: id, trigger: event.description }, 'automation triggered');
    this.launch(event);
  }

  private drop(event: TriggerEvent, why: string): void {
    this.dropped++;
    this.ctx.log.info({ automation: this.automation.id, trigger: event.description }, `run not started: ${why}`);
    this.trace.dropped(this.automation.id, event, why);
  }

  private launch(event: TriggerEvent): void {
    const controller = new AbortController();
    const active: Active = { controller, done: Promise.resolve() };
    this.active.add(active);
    this.runs++;
    active.done = this.run(event, controller.signal).finally(() => {
      this.active.delete(active);
      const next = this.queue.shift();
      if (next && !this.stopped) this.launch(next);
    });
  }

  /**
   * e154's trigger callbacks: automationTriggerTime / StateChanged / System (automationTriggerMqtt
   * for an mqtt trigger) of the trigger's script_file gets the event; false stops the run. Kept in
   * the trace as the first step.
   */
  private async triggerScript(event: TriggerEvent, steps: Step[]): Promise<boolean> {
    const fn = TRIGGER_CALLBACKS[event.type] ?? 'automationTrigger';
    const t0 = performance.now();
    const msg = {
      type: event.type,
      time: event.time,
      entity_id: event.entity ?? null,
      old_state: event.from ?? null,
      new_state: event.to ?? null,
      topic: event.topic ?? null,
      payload: event.payload ?? null,
      event: event.event ?? null,
    };
    const r = this.ctx.scripts.callFile
      ? await this.ctx.scripts.callFile(event.scriptFile!, fn, [msg])
      : { error: 'script_file is not available in this run' };
    const ok = !r.error && r.value !== false;
    steps.push({
      kind: 'condition',
      index: -1,
      type: 'trigger script_file',
      result: r.error ? 'error' : ok ? 'true' : 'false',
      ...(r.error
        ? { error: r.error }
        : { detail: `${fn} of ${event.scriptFile} returned ${JSON.stringify(r.value ?? null)}` }),
      ms: performance.now() - t0,
    });
    if (r.error) this.ctx.log.warn({ automation: this.automation.id }, `trigger script failed: ${r.error}`);
    return ok;
  }

  private async run(event: TriggerEvent, signal: AbortSignal): Promise<void> {
    const { automation, ctx } = this;
    const steps: Step[] = [];
    const runId = this.trace.begin(automation.id, event);
    const label = (kind: string, i: number) => `${this.file}#${automation.id}.${kind}[${i}]`;
    try {
      if (event.scriptFile && !(await this.triggerScript(event, steps)))
        return this.trace.finish(runId, 'skipped', steps);
      for (const [i, c] of automation.conditions.entries()) {
        const t0 = performance.now();
        const check = conditions[c.type] as (
          c: unknown,
          ctx: AutomationContext,
          e: TriggerEvent,
          label: string,
        ) => ReturnType<(typeof conditions)['state']>;
        try {
          const { result, detail } = await check(c, ctx, event, label('conditions', i));
          steps.push({
            kind: 'condition',
            index: i,
            type: c.type,
            result: result ? 'true' : 'false',
            detail,
            ms: performance.now() - t0,
          });
          if (!result) return this.trace.finish(runId, 'skipped', steps);
        } catch (err) {
          steps.push({
            kind: 'condition',
            index: i,
            type: c.type,
            result: 'error',
            error: (err as Error).message,
            ms: performance.now() - t0,
          });
          ctx.log.warn({ automation: automation.id, condition: i }, `condition failed: ${(err as Error).message}`);
          return this.trace.finish(runId, 'failed', steps);
        }
      }
      for (const [i, a] of automation.actions.entries()) {
        if (signal.aborted) return this.trace.finish(runId, 'cancelled', steps);
        const t0 = performance.now();
        const step = actions[a.type] as (
          c: unknown,
          ctx: AutomationContext,
          e: TriggerEvent,
          s: AbortSignal,
          label: string,
        ) => Promise<void>;
        try {
          await step(a, ctx, event, signal, label('actions', i));
          steps.push({ kind: 'action', index: i, type: a.type, result: 'ok', ms: performance.now() - t0 });
        } catch (err) {
          const cancelled = signal.aborted;
          steps.push({
            kind: 'action',
            index: i,
            type: a.type,
            result: cancelled ? 'cancelled' : 'error',
            error: cancelled ? undefined : (err as Error).message,
            ms: performance.now() - t0,
          });
          if (!cancelled)
            ctx.log.warn({ automation: automation.id, action: i }, `action failed: ${(err as Error).message}`);
          return this.trace.finish(runId, cancelled ? 'cancelled' : 'failed', steps);
        }
      }
      this.trace.finish(runId, 'ok', steps);
    } catch (err) {
      ctx.log.error({ automation: automation.id, err }, 'automation run failed');
      this.trace.finish(runId, 'failed', steps);
    }
  }
}
