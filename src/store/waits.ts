// What automations are waiting for, kept so a restart (or kill -9) does not lose it: a run in a
// `delay` or a `wait_for` (kind, the action it is at, its trigger event, its deadline) and a state
// trigger's pending `for:`. A row is written when the wait begins and deleted when it ends; the
// rows at start are the waits to resume (src/automations/waits.ts decides what to do with them).
import type { Db } from './db.js';

export interface WaitRow {
  id: number;
  automation: string;
  kind: 'delay' | 'wait_for' | 'state_for';
  /** `actions[2]` or `triggers[0]`. */
  step: string;
  /** The trigger event (JSON). */
  event: string;
  /** When the run (or the state) began. */
  started: number;
  deadline: number;
}

export class WaitStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      add: db.prepare(`INSERT INTO automation_waits (automation, kind, step, event, started, deadline)
        VALUES (@automation, @kind, @step, @event, @started, @deadline)
        ON CONFLICT (automation, kind, step, started) DO UPDATE SET deadline = excluded.deadline, event = excluded.event
        RETURNING id`),
      remove: db.prepare('DELETE FROM automation_waits WHERE id = ?'),
      removeAutomation: db.prepare('DELETE FROM automation_waits WHERE automation = ?'),
      of: db.prepare('SELECT * FROM automation_waits WHERE automation = ? ORDER BY deadline, id'),
      all: db.prepare('SELECT * FROM automation_waits ORDER BY deadline, id'),
    };
  }

  add(row: Omit<WaitRow, 'id'>): number {
    return (this.q.add.get(row) as { id: number }).id;
  }

  remove(id: number): void {
    this.q.remove.run(id);
  }

  removeAutomation(automation: string): void {
    this.q.removeAutomation.run(automation);
  }

  of(automation: string): WaitRow[] {
    return this.q.of.all(automation) as WaitRow[];
  }

  all(): WaitRow[] {
    return this.q.all.all() as WaitRow[];
  }
}
