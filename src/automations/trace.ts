// The trace of automation runs: the triggering event, each condition's result, each action's
// result and duration, errors with their script line. Bounded per automation.
import type { Db } from '../store/db.js';
import type { TriggerEvent } from './types.js';

export type RunStatus = 'running' | 'ok' | 'failed' | 'skipped' | 'cancelled' | 'dropped';
export interface Step { kind: 'condition' | 'action'; index: number; type: string; result: 'true' | 'false' | 'ok' | 'error' | 'cancelled'; detail?: string; error?: string; ms: number }
export interface Run { id: number; automation: string; started: number; finished?: number; status: RunStatus; trigger: TriggerEvent; steps: Step[] }

export class RunTrace {
  private readonly q;

  constructor(db: Db, private readonly keepPerAutomation = 100) {
    this.q = {
      insert: db.prepare('INSERT INTO automation_runs (automation_id, started, status, trigger, steps) VALUES (?, ?, ?, ?, ?)'),
      finish: db.prepare('UPDATE automation_runs SET finished = ?, status = ?, steps = ? WHERE id = ?'),
      trim: db.prepare('DELETE FROM automation_runs WHERE automation_id = ? AND id <= (SELECT max(id) FROM automation_runs WHERE automation_id = ?) - ?'),
      list: db.prepare('SELECT * FROM automation_runs WHERE automation_id = ? ORDER BY id DESC LIMIT ?'),
      last: db.prepare('SELECT * FROM automation_runs WHERE automation_id = ? ORDER BY id DESC LIMIT 1'),
      interrupted: db.prepare("UPDATE automation_runs SET status = 'cancelled', finished = started WHERE status = 'running'"),
    };
    // runs that were in progress when the hub last stopped or crashed
    this.q.interrupted.run();
  }

  begin(automation: string, trigger: TriggerEvent, status: RunStatus = 'running', steps: Step[] = []): number {
    const id = Number(this.q.insert.run(automation, Date.now(), status, JSON.stringify(trigger), JSON.stringify(steps)).lastInsertRowid);
    this.q.trim.run(automation, automation, this.keepPerAutomation);
    return id;
  }

  finish(id: number, status: RunStatus, steps: Step[]): void {
    this.q.finish.run(Date.now(), status, JSON.stringify(steps), id);
  }

  runs(automation: string, limit = 20): Run[] {
    return (this.q.list.all(automation, limit) as Record<string, unknown>[]).map(toRun);
  }

  last(automation: string): Run | undefined {
    const r = this.q.last.get(automation) as Record<string, unknown> | undefined;
    return r && toRun(r);
  }
}

function toRun(r: Record<string, unknown>): Run {
  return {
    id: r.id as number, automation: r.automation_id as string, started: r.started as number, finished: (r.finished as number | null) ?? undefined,
    status: r.status as RunStatus, trigger: JSON.parse(r.trigger as string) as TriggerEvent, steps: JSON.parse(r.steps as string) as Step[],
  };
}
