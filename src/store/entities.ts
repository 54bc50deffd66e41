// The entities table and each entity's bounded state history (src/entities/registry.ts keeps
// entities in memory, turns changes into events and writes them here in one batch per turn).
import type { Db } from './db.js';

export type EntityTables = ReturnType<typeof entityTables>;

export function entityTables(db: Db) {
  return {
    all: db.prepare('SELECT * FROM entities ORDER BY id'),
    insert:
      db.prepare(`INSERT INTO entities (id, unique_id, name, type, attributes, script, actions, source, device_id, category,
      state, last_changed, last_updated, available)
      VALUES (@id, @uniqueId, @name, @domain, @attributes, @script, @actions, @source, @deviceId, @category,
      @state, @lastChanged, @lastUpdated, @available)`),
    update:
      db.prepare(`UPDATE entities SET name = @name, type = @domain, script = @script, actions = @actions, source = @source,
      attributes = @attributes, unique_id = @uniqueId, device_id = @deviceId, category = @category WHERE id = @id`),
    setState: db.prepare(
      'UPDATE entities SET state = ?, attributes = ?, last_changed = ?, last_updated = ? WHERE id = ?',
    ),
    setAvailable: db.prepare('UPDATE entities SET available = ? WHERE id = ?'),
    remove: db.prepare('DELETE FROM entities WHERE id = ?'),
    history: db.prepare('INSERT INTO entity_history (entity_id, state, attributes, time) VALUES (?, ?, ?, ?)'),
    trimHistory: db.prepare(
      'DELETE FROM entity_history WHERE entity_id = ? AND id <= (SELECT max(id) FROM entity_history WHERE entity_id = ?) - ?',
    ),
    readHistory: db.prepare(
      'SELECT state, attributes, time FROM entity_history WHERE entity_id = ? ORDER BY id DESC LIMIT ?',
    ),
  };
}
