// The entities table and each entity's bounded state history (src/entities/registry.ts turns
// rows into entities and changes into events).
import type { Db } from './db.js';

export type EntityTables = ReturnType<typeof entityTables>;

export function entityTables(db: Db) {
  return {
    get: db.prepare('SELECT * FROM entities WHERE id = ?'),
    byUnique: db.prepare('SELECT * FROM entities WHERE unique_id = ?'),
    all: db.prepare('SELECT * FROM entities ORDER BY id'),
    insert: db.prepare(`INSERT INTO entities (id, unique_id, name, type, attributes, script, actions, source)
      VALUES (@id, @uniqueId, @name, @type, @attributes, @script, @actions, @source)`),
    update:
      db.prepare(`UPDATE entities SET name = @name, type = @type, script = @script, actions = @actions, source = @source,
      attributes = @attributes, unique_id = @uniqueId WHERE id = @id`),
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
