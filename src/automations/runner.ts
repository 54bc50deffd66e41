// Runs one automation: its triggers, the mode (single, queued, restart, parallel, as in Home
// Assistant), conditions then actions, each step recorded in the trace. A failing step ends
// its run (recorded with the error) and never touches other automations.
import type { Automation } from './schema.js';
import type { AutomationContext, Trigger, TriggerEvent } from './types.js';
import { triggers } from './triggers/index.js';
import { conditions } from './conditions/index.js';
import { actions } from './actions/index.js';
import type { RunTrace, Step } from './trace.js';
import type { WaitRow } from '../store/waits.js';
import { realClock } from '../clock.js';
import { describeDuration } from './duration.js';
import { StopRun } from './actions/wait-for.js';
import { Cancelled, type RunInfo } from './waits.js';

/** A run that goes on after a restart, at the action it was waiting in. */
interface Resume {
  from: number;
  wait: WaitRow;
  note: string;
}

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

  /** A run is under way that is not asleep on the clock (the simulated home settles on it). */
  get busy(): boolean {
    return this.active.size > (this.ctx.sleeping?.n ?? 0);
  }

  constructor(
    readonly automation: Automation,
    private readonly ctx: AutomationContext,
    private readonly trace: RunTrace,
    private readonly file: string,
  ) {
    this.triggers = automation.triggers.map((t, i) => {
      const factory = triggers[t.type] as (
        c: typeof t,
        ctx: AutomationContext,
        fire: (e: TriggerEvent) => void,
        where: { automation: string; step: string; onRestart: Automation['on_restart'] },
      ) => Trigger;
      const scriptFile = 'script_file' in t ? t.script_file : undefined;
      return factory(t, ctx, (e) => this.fire(scriptFile ? { ...e, scriptFile } : e), {
        automation: automation.id,
        step: `triggers[${i}]`,
        onRestart: automation.on_restart,
      });
    });
  }

  async start(): Promise<void> {
    for (const t of this.triggers) await t.start();
    this.resumeWaits();
  }

  /**
   * The runs that were waiting (delay, wait_for) when the hub last stopped or died: each goes on at
   * its action, at its original deadline (a late one at once), unless `on_restart` says otherwise;
   * the trace tells which and how late.
   */
  private resumeWaits(): void {
    const { waits } = this.ctx;
    if (!waits) return;
    const { id, actions: steps, on_restart: policy } = this.automation;
    const now = (this.ctx.clock ?? realClock).now();
    for (const row of waits.of(id)) {
      if (row.kind === 'state_for') continue; // its trigger resumes it
      const from = Number(/^actions\[(\d+)\]$/.exec(row.step)?.[1] ?? -1);
      let event: TriggerEvent;
      try {
        event = JSON.parse(row.event) as TriggerEvent;
      } catch {
        event = { type: 'restart', time: row.started, description: 'a run from before the restart' };
      }
      if (steps[from]?.type !== row.kind) {
        waits.remove(row.id);
        this.ctx.log.warn(
          { automation: id, step: row.step },
          'a wait from before the restart no longer matches the automation; dropped',
        );
        continue;
      }
      const late = now - row.deadline;
      const when = late > 0 ? `${describeDuration(late)} late` : `${describeDuration(-late)} to go`;
      const refuse =
        policy === 'skip'
          ? 'on_restart: skip'
          : typeof policy === 'object' && late > policy.run_if_missed
            ? `more than run_if_missed ${describeDuration(policy.run_if_missed)}`
            : undefined;
      if (refuse) {
        waits.remove(row.id);
        const run = this.trace.begin(id, event);
        this.trace.finish(run, 'skipped', [
          {
            kind: 'action',
            index: from,
            type: 'resume',
            result: 'false',
            detail: `not resumed after the restart (${row.kind} ${when}; ${refuse})`,
            ms: 0,
          },
        ]);
        continue;
      }
      this.runs++;
      this.launch(event, { from, wait: row, note: `resumed after restart, ${when}` });
    }
  }

  /** Stops the triggers; runs in progress get `graceMs` to finish, then are cancelled. A stop for shutdown keeps their waits for the next start. */
  async stop(graceMs = 0, why: 'shutdown' | 'stopped' = 'stopped'): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    for (const t of this.triggers) await t.stop().catch(() => {});
    if (graceMs > 0 && this.active.size > 0) {
      await Promise.race([
        Promise.all([...this.active].map((a) => a.done)),
        new Promise((r) => setTimeout(r, graceMs)),
      ]);
    }
    for (const a of this.active) a.controller.abort(new Cancelled(why));
    await Promise.all([...this.active].map((a) => a.done));
    // taken out, changed or disabled: what it waited for is gone with it
    if (why !== 'shutdown') this.ctx.waits?.removeAutomation(this.automation.id);
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
      if (mode === 'restart') for (const a of this.active) a.controller.abort(new Cancelled('restart mode'));
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

  private launch(event: TriggerEvent, resume?: Resume): void {
    const controller = new AbortController();
    const active: Active = { controller, done: Promise.resolve() };
    this.active.add(active);
    if (!resume) this.runs++;
    active.done = this.run(event, controller.signal, resume).finally(() => {
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

  private async run(event: TriggerEvent, signal: AbortSignal, resume?: Resume): Promise<void> {
    const { automation, ctx } = this;
    const steps: Step[] = [];
    const runId = this.trace.begin(automation.id, event);
    const started = resume?.wait.started ?? (ctx.clock ?? realClock).now();
    const label = (kind: string, i: number) => `${this.file}#${automation.id}.${kind}[${i}]`;
    try {
      if (resume)
        steps.push({ kind: 'action', index: resume.from, type: 'resume', result: 'ok', detail: resume.note, ms: 0 });
      if (!resume && event.scriptFile && !(await this.triggerScript(event, steps)))
        return this.trace.finish(runId, 'skipped', steps);
      for (const [i, c] of resume ? [] : automation.conditions.entries()) {
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
          if (!result) {
            ctx.nearMiss?.(automation.id, {
              time: (ctx.clock ?? realClock).now(),
              step: `conditions[${i}]`,
              what: event.description,
              reason: `condition ${i} (${c.type}) false: ${detail}`,
            });
            return this.trace.finish(runId, 'skipped', steps);
          }
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
        if (resume && i < resume.from) continue;
        if (signal.aborted) return this.trace.finish(runId, 'cancelled', steps);
        const t0 = performance.now();
        const step = actions[a.type] as (
          c: unknown,
          ctx: AutomationContext,
          e: TriggerEvent,
          s: AbortSignal,
          label: string,
          run: RunInfo,
        ) => Promise<void>;
        const info: RunInfo = {
          automation: automation.id,
          step: `actions[${i}]`,
          started,
          event,
          ...(resume && i === resume.from ? { resumed: resume.wait } : {}),
        };
        try {
          await step(a, ctx, event, signal, label('actions', i), info);
          steps.push({
            kind: 'action',
            index: i,
            type: a.type,
            result: 'ok',
            ...(info.detail ? { detail: info.detail } : {}),
            ms: performance.now() - t0,
          });
        } catch (err) {
          if (err instanceof StopRun) {
            steps.push({
              kind: 'action',
              index: i,
              type: a.type,
              result: 'ok',
              detail: err.message,
              ms: performance.now() - t0,
            });
            return this.trace.finish(runId, 'skipped', steps);
          }
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
