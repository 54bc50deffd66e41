// Scripts' named timers (Timer.at/in): one row per script and name, written when it is set, so a
// restart or kill -9 keeps it; deleted when it fires or is cancelled (src/scripts/bindings/timer.ts).
import type { Db } from './db.js';

export interface TimerRow {
  script: string;
  name: string;
  due: number;
  data: string;
}

export class ScriptTimerStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      set: db.prepare(`INSERT INTO script_timers (script, name, due, data) VALUES (?, ?, ?, ?)
        ON CONFLICT (script, name) DO UPDATE SET due = excluded.due, data = excluded.data`),
      remove: db.prepare('DELETE FROM script_timers WHERE script = ? AND name = ?'),
      of: db.prepare('SELECT script, name, due, data FROM script_timers WHERE script = ? ORDER BY due, name'),
      count: db.prepare('SELECT count(*) AS n FROM script_timers WHERE script = ?'),
      has: db.prepare('SELECT 1 FROM script_timers WHERE script = ? AND name = ?'),
    };
  }

  set(script: string, name: string, due: number, data: string): void {
    this.q.set.run(script, name, due, data);
  }

  remove(script: string, name: string): boolean {
    return this.q.remove.run(script, name).changes > 0;
  }

  of(script: string): TimerRow[] {
    return this.q.of.all(script) as TimerRow[];
  }

  count(script: string): number {
    return (this.q.count.get(script) as { n: number }).n;
  }

  has(script: string, name: string): boolean {
    return this.q.has.get(script, name) !== undefined;
  }
}
