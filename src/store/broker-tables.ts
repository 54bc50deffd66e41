// The embedded broker's tables: retained messages, persistent sessions' subscriptions, their
// outgoing and incoming QoS 1/2 packets, and wills. The broker's persistence (src/broker/
// persistence.ts) serves reads from memory and writes through these statements.
import type { Db } from './db.js';

export type BrokerTables = ReturnType<typeof brokerTables>;

export function brokerTables(db: Db) {
  return {
    retainedPut: db.prepare('INSERT OR REPLACE INTO broker_retained (topic, packet) VALUES (?, ?)'),
    retainedDel: db.prepare('DELETE FROM broker_retained WHERE topic = ?'),
    retainedAll: db.prepare('SELECT packet FROM broker_retained'),
    subPut: db.prepare('INSERT OR REPLACE INTO broker_subscriptions (client_id, topic, options) VALUES (?, ?, ?)'),
    subDel: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND topic = ?'),
    subClean: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
    subAll: db.prepare('SELECT client_id, topic, options FROM broker_subscriptions ORDER BY rowid'),
    outPut: db.prepare(
      'INSERT INTO broker_outgoing (client_id, broker_id, broker_counter, message_id, packet) VALUES (?, ?, ?, NULL, ?)',
    ),
    outSetId: db.prepare(
      'UPDATE broker_outgoing SET message_id = ? WHERE client_id = ? AND broker_id = ? AND broker_counter = ?',
    ),
    outFindById: db.prepare(
      'SELECT seq FROM broker_outgoing WHERE client_id = ? AND message_id = ? ORDER BY seq LIMIT 1',
    ),
    outReplace: db.prepare(
      'UPDATE broker_outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, packet = ? WHERE seq = ?',
    ),
    outDelSeq: db.prepare('DELETE FROM broker_outgoing WHERE seq = ?'),
    outAll: db.prepare('SELECT client_id, message_id, packet FROM broker_outgoing ORDER BY seq'),
    inPut: db.prepare('INSERT OR REPLACE INTO broker_incoming (client_id, message_id, packet) VALUES (?, ?, ?)'),
    inDel: db.prepare('DELETE FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
    inClean: db.prepare('DELETE FROM broker_incoming WHERE client_id = ?'),
    inAll: db.prepare('SELECT client_id, packet FROM broker_incoming'),
    willPut: db.prepare('INSERT OR REPLACE INTO broker_wills (client_id, packet) VALUES (?, ?)'),
    willDel: db.prepare('DELETE FROM broker_wills WHERE client_id = ?'),
    willAll: db.prepare('SELECT client_id, packet FROM broker_wills'),
  };
}
