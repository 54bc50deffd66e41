// The message_trace table: the hub's own publishes with their provenance and result, bounded in
// rows (src/mqtt/trace.ts batches the writes).
import type { Db } from './db.js';

export type MessageTraceTables = ReturnType<typeof messageTraceTables>;

export function messageTraceTables(db: Db) {
  return {
    insert:
      db.prepare(`INSERT INTO message_trace (time, topic, size, qos, retain, source, line, col, result, error, ack_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    trim: db.prepare('DELETE FROM message_trace WHERE id <= (SELECT max(id) FROM message_trace) - ?'),
    lastSource: db.prepare(
      "SELECT source, line, col FROM message_trace WHERE topic = ? AND size = ? AND result = 'ok' AND source IS NOT NULL ORDER BY id DESC LIMIT 1",
    ),
    recent: db.prepare('SELECT * FROM message_trace ORDER BY id DESC LIMIT ?'),
    forTopic: db.prepare('SELECT * FROM message_trace WHERE topic = ? AND time >= ? AND time <= ? ORDER BY id LIMIT ?'),
  };
}
