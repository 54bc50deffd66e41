// The trace of automation runs: the triggering event, each condition's result, each action's
// result and duration, errors with their script line. Bounded per automation. Finished runs are
// written in one transaction per flush (not two writes per run); runs in progress are in memory.
import type { Db } from '../store/db.js';
import type { TriggerEvent } from './types.js';
import { automationRunTables, type AutomationRunTables } from '../store/automation-runs.js';

export type RunStatus = 'running' | 'ok' | 'failed' | 'skipped' | 'cancelled' | 'dropped';
export interface Step {
  kind: 'condition' | 'action';
  index: number;
  type: string;
  result: 'true' | 'false' | 'ok' | 'error' | 'cancelled';
  detail?: string;
  error?: string;
  ms: number;
}
export interface Run {
  id: number;
  automation: string;
  started: number;
  finished?: number;
  status: RunStatus;
  trigger: TriggerEvent;
  steps: Step[];
}

export class RunTrace {
  private readonly q: AutomationRunTables;
  private readonly active = new Map<number, Run>();
  private pending: Run[] = [];
  private timer?: NodeJS.Timeout;
  private nextId: number;

  /** Called with every finished run (the live event stream). */
  onFinish?: (run: Run) => void;

  constructor(
    private readonly db: Db,
    private readonly keepPerAutomation = 100,
    private readonly flushMs = 200,
  ) {
    this.q = automationRunTables(db);
    this.nextId = (this.q.maxId.get() as { id: number }).id + 1;
  }

  begin(automation: string, trigger: TriggerEvent): Run {
    const run: Run = {
      id: this.nextId++,
      automation,
      started: Date.now(),
      status: 'running',
      trigger: bounded(trigger),
      steps: [],
    };
    this.active.set(run.id, run);
    return run;
  }

  finish(run: Run, status: RunStatus, steps: Step[]): void {
    this.active.delete(run.id);
    run.status = status;
    run.steps = steps;
    run.finished = Date.now();
    this.onFinish?.(run);
    this.pending.push(run);
    if (this.pending.length >= 500) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** A run that never started (mode single/queued/parallel refused it), recorded as such. */
  dropped(automation: string, trigger: TriggerEvent, why: string): void {
    this.finish(this.begin(automation, trigger), 'dropped', [
      { kind: 'action', index: -1, type: 'mode', result: 'cancelled', detail: why, ms: 0 },
    ]);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0 || !this.db.open) return;
    // the newest keepPerAutomation runs of each automation are kept per outcome (the last failures
    // are never pushed out by successes); older runs of this batch would be trimmed right after
    // their insert (a flood of 12 000 runs/s wrote each one)
    const perOutcome = new Map<string, number>();
    const runs: Run[] = [];
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const r = this.pending[i]!;
      const key = `${r.automation}\0${r.status}`;
      const n = perOutcome.get(key) ?? 0;
      if (n >= this.keepPerAutomation) continue;
      perOutcome.set(key, n + 1);
      runs.push(r);
    }
    runs.reverse();
    this.pending = [];
    this.db.transaction(() => {
      for (const r of runs)
        this.q.insert.run(
          r.id,
          r.automation,
          r.started,
          r.finished ?? null,
          r.status,
          JSON.stringify(r.trigger),
          JSON.stringify(r.steps),
        );
      for (const key of perOutcome.keys()) {
        const [a, status] = key.split('\0') as [string, string];
        this.q.trim.run(a, status, a, status, Math.max(0, this.keepPerAutomation - 1));
      }
    })();
  }

  /** Newest first, runs in progress included. */
  runs(automation: string, limit = 20, status?: string): Run[] {
    this.flush();
    if (status) return (this.q.listStatus.all(automation, status, limit) as Record<string, unknown>[]).map(toRun);
    const active = [...this.active.values()].filter((r) => r.automation === automation).reverse();
    const stored = (this.q.list.all(automation, limit) as Record<string, unknown>[]).map(toRun);
    return [...active, ...stored].slice(0, limit);
  }

  last(automation: string): Run | undefined {
    return this.runs(automation, 1)[0];
  }
}

const MAX_PAYLOAD = 4096;

/** The trace keeps at most 4 KiB of a triggering payload (the run itself got all of it). */
function bounded(trigger: TriggerEvent): TriggerEvent {
  if (trigger.payload === undefined || trigger.payload.length <= MAX_PAYLOAD) return trigger;
  const { json: _json, ...rest } = trigger;
  return { ...rest, payload: `${trigger.payload.slice(0, MAX_PAYLOAD)}… (${trigger.payload.length} characters)` };
}

function toRun(r: Record<string, unknown>): Run {
  return {
    id: r.id as number,
    automation: r.automation_id as string,
    started: r.started as number,
    finished: (r.finished as number | null) ?? undefined,
    status: r.status as RunStatus,
    trigger: JSON.parse(r.trigger as string) as TriggerEvent,
    steps: JSON.parse(r.steps as string) as Step[],
  };
}
