// The automation_runs table: finished runs of each automation with their steps, bounded per
// automation and outcome (src/automations/trace.ts keeps the runs in progress and batches the writes).
import type { Db } from './db.js';

export type AutomationRunTables = ReturnType<typeof automationRunTables>;

export function automationRunTables(db: Db) {
  return {
    insert: db.prepare(
      'INSERT INTO automation_runs (id, automation_id, started, finished, status, trigger, steps) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    // exactly the newest N of the automation with that outcome (ids are shared by all automations,
    // so they are not consecutive per automation: "max(id) - N" kept fewer when automations interleave)
    trim: db.prepare(
      'DELETE FROM automation_runs WHERE automation_id = ? AND status = ? AND id < coalesce((SELECT id FROM automation_runs WHERE automation_id = ? AND status = ? ORDER BY id DESC LIMIT 1 OFFSET ?), 0)',
    ),
    list: db.prepare('SELECT * FROM automation_runs WHERE automation_id = ? ORDER BY id DESC LIMIT ?'),
    listStatus: db.prepare(
      'SELECT * FROM automation_runs WHERE automation_id = ? AND status = ? ORDER BY id DESC LIMIT ?',
    ),
    maxId: db.prepare('SELECT coalesce(max(id), 0) AS id FROM automation_runs'),
  };
}
