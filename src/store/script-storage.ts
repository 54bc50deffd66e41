// The persisted key-value Storage of each script (its name is the namespace).
import type { Db } from './db.js';

export class ScriptStorage {
  private readonly q;
  /** Characters (keys + JSON values) each script holds, counted from the table on first use. */
  private readonly used = new Map<string, number>();

  constructor(
    db: Db,
    private readonly maxValueBytes = 1024 * 1024,
    private readonly maxScriptBytes = 16 * 1024 * 1024,
  ) {
    this.q = {
      size: db.prepare('SELECT length(key) + length(value) AS n FROM script_storage WHERE script = ? AND key = ?'),
      total: db.prepare(
        'SELECT coalesce(sum(length(key) + length(value)), 0) AS n FROM script_storage WHERE script = ?',
      ),
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
    if (json.length > this.maxValueBytes)
      throw new RangeError(`Storage.set: value of ${json.length} bytes is over the limit of ${this.maxValueBytes}`);
    // A quota per script: a script writing new keys in a loop cannot fill the disk.
    const after = this.usage(script) - this.sizeOf(script, key) + key.length + json.length;
    if (after > this.maxScriptBytes) {
      throw new RangeError(
        `Storage.set: this script's storage would hold ${after} bytes, over its quota of ${this.maxScriptBytes}; delete keys it no longer needs`,
      );
    }
    this.q.set.run(script, key, json);
    this.used.set(script, after);
  }

  delete(script: string, key: string): boolean {
    const size = this.sizeOf(script, key);
    const deleted = this.q.del.run(script, key).changes > 0;
    if (deleted) this.used.set(script, this.usage(script) - size);
    return deleted;
  }

  private sizeOf(script: string, key: string): number {
    return (this.q.size.get(script, key) as { n: number } | undefined)?.n ?? 0;
  }

  private usage(script: string): number {
    let n = this.used.get(script);
    if (n === undefined) {
      n = (this.q.total.get(script) as { n: number }).n;
      this.used.set(script, n);
    }
    return n;
  }

  keys(script: string): string[] {
    return (this.q.keys.all(script) as { key: string }[]).map((r) => r.key);
  }
}
