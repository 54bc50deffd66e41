// The automations table: each automation's definition as last loaded from automations.yaml, and
// whether it was switched off (in the UI or the API) — that survives a reload of the file.
import type { Db } from './db.js';

export interface StoredAutomation {
  id: string;
  definition: string;
  enabled: boolean;
}

export class AutomationStore {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      upsert: db.prepare(`INSERT INTO automations (id, definition, source, updated_at) VALUES (?, ?, 'file', ?)
        ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`),
      remove: db.prepare('DELETE FROM automations WHERE id = ?'),
      setEnabled: db.prepare('UPDATE automations SET enabled = ? WHERE id = ?'),
      enabled: db.prepare('SELECT enabled FROM automations WHERE id = ?'),
      all: db.prepare('SELECT id, definition, enabled FROM automations ORDER BY id'),
    };
  }

  /** Stores `definitions` (id -> JSON) and removes the ids in `gone`, in one transaction. */
  replace(definitions: [string, string][], gone: string[]): void {
    const now = Date.now();
    this.db.transaction(() => {
      for (const [id, json] of definitions) this.q.upsert.run(id, json, now);
      for (const id of gone) this.q.remove.run(id);
    })();
  }

  setEnabled(id: string, enabled: boolean): void {
    this.q.setEnabled.run(enabled ? 1 : 0, id);
  }

  /** Switched on, unless someone switched it off (an unknown id is on). */
  enabled(id: string): boolean {
    const row = this.q.enabled.get(id) as { enabled: number } | undefined;
    return (row?.enabled ?? 1) === 1;
  }

  all(): StoredAutomation[] {
    return (this.q.all.all() as { id: string; definition: string; enabled: number }[]).map((r) => ({
      id: r.id,
      definition: r.definition,
      enabled: r.enabled === 1,
    }));
  }
}
