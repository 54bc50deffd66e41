// The meta table: small values the hub keeps across restarts (its broker id).
import type { Db } from './db.js';

/** The value under `key`, made with `create` (and stored) the first time. */
export function metaValue(db: Db, key: string, create: () => string): string {
  const stored = metaGet(db, key);
  if (stored !== undefined) return stored;
  const value = create();
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, value);
  return value;
}

/** The value under `key`, or undefined. */
export function metaGet(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

export function metaSet(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
    key,
    value,
  );
}
