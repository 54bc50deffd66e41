// The persisted key-value Storage of each script (its name is the namespace).
import type { Db } from './db.js';

export class ScriptStorage {
  private readonly q;

  constructor(db: Db, private readonly maxValueBytes = 1024 * 1024) {
    this.q = {
      get: db.prepare('SELECT value FROM script_storage WHERE script = ? AND key = ?'),
      set: db.prepare('INSERT OR REPLACE INTO script_storage (script, key, value) VALUES (?, ?, ?)'),
      del: db.prepare('DELETE FROM script_storage WHERE script = ? AND key = ?'),
      keys: db.prepare('SELECT key FROM script_storage WHERE script = ? ORDER BY key'),
    };
  }

  get(script: string, key: string): unknown {
    const row = this.q.get.get(script, key) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  }

  set(script: string, key: string, value: unknown): void {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError('Storage.set: value cannot be stored as JSON');
    if (json.length > this.maxValueBytes) throw new RangeError(`Storage.set: value of ${json.length} bytes is over the limit of ${this.maxValueBytes}`);
    this.q.set.run(script, key, json);
  }

  delete(script: string, key: string): boolean {
    return this.q.del.run(script, key).changes > 0;
  }

  keys(script: string): string[] {
    return (this.q.keys.all(script) as { key: string }[]).map((r) => r.key);
  }
}
