// The entities table (src/entities/registry.ts keeps entities in memory, turns changes into events
// and writes them here in one batch per turn; their history is the recorder's, store/recorder.ts).
import type { Db } from './db.js';

export type EntityTables = ReturnType<typeof entityTables>;

export function entityTables(db: Db) {
  return {
    all: db.prepare('SELECT * FROM entities ORDER BY id'),
    insert:
      db.prepare(`INSERT INTO entities (id, unique_id, name, type, attributes, script, actions, source, device_id, category,
      area, state, last_changed, last_updated, available)
      VALUES (@id, @uniqueId, @name, @domain, @attributes, @script, @actions, @source, @deviceId, @category,
      @area, @state, @lastChanged, @lastUpdated, @available)`),
    update:
      db.prepare(`UPDATE entities SET name = @name, type = @domain, script = @script, actions = @actions, source = @source,
      attributes = @attributes, unique_id = @uniqueId, device_id = @deviceId, category = @category, area = @area
      WHERE id = @id`),
    setState: db.prepare(
      'UPDATE entities SET state = ?, attributes = ?, last_changed = ?, last_updated = ? WHERE id = ?',
    ),
    setAvailable: db.prepare('UPDATE entities SET available = ? WHERE id = ?'),
    remove: db.prepare('DELETE FROM entities WHERE id = ?'),
  };
}
