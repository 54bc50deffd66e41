// The durable outbox (mqtt_outbox): QoS 1/2 publishes of one client (the hub, or a bridge) kept
// until the broker acknowledged them; mqtt.js's store interface is src/mqtt/outbox.ts.
import type { Db } from './db.js';

export type OutboxTable = ReturnType<typeof outboxTable>;

export function outboxTable(db: Db) {
  return {
    put: db.prepare(
      'INSERT INTO mqtt_outbox (client, message_id, packet) VALUES (?, ?, ?) ON CONFLICT (client, message_id) DO UPDATE SET packet = excluded.packet',
    ),
    get: db.prepare('SELECT packet FROM mqtt_outbox WHERE client = ? AND message_id = ?'),
    del: db.prepare('DELETE FROM mqtt_outbox WHERE client = ? AND message_id = ?'),
    all: db.prepare('SELECT packet FROM mqtt_outbox WHERE client = ? ORDER BY seq'),
    ids: db.prepare('SELECT message_id FROM mqtt_outbox WHERE client = ?'),
    count: db.prepare('SELECT count(*) AS n FROM mqtt_outbox WHERE client = ?'),
  };
}
