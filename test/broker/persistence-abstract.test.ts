// The SQLite persistence runs aedes-persistence's own abstract test suite, and restores its
// state from the file (the part the abstract suite cannot see).
import { test } from 'node:test';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import path from 'node:path';
import { deserialize } from 'node:v8';
import { SqlitePersistence, BrokerPersistence } from '../../src/broker/persistence.js';
import { openDatabase } from '../../src/store/db.js';
import { tempDir, removeDir } from '../helpers.js';

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (opts: object) => void;

abstractSuite({ test, persistence: () => new SqlitePersistence(openDatabase(':memory:')), testAsync: true });

test('SqlitePersistence: a new instance over the same file has the retained messages, subscriptions, queues, incoming packets and wills', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'p.db');
  const broker = { id: 'b1', counter: 0 };
  const client = { id: 'c1' };
  const a = new SqlitePersistence(openDatabase(file));
  await a.setup(broker);
  await a.storeRetained({ cmd: 'publish', topic: 'r/1', payload: Buffer.from('kept'), qos: 1, retain: true });
  await a.addSubscriptions(client, [
    { topic: 'q/#', qos: 1 },
    { topic: 'z/+', qos: 2 },
  ]);
  const p1 = {
    cmd: 'publish',
    topic: 'q/1',
    payload: Buffer.from([0, 1, 2, 255]),
    qos: 1,
    retain: false,
    brokerId: 'b1',
    brokerCounter: 1,
  };
  const p2 = {
    cmd: 'publish',
    topic: 'q/2',
    payload: Buffer.from('two'),
    qos: 1,
    retain: false,
    brokerId: 'b1',
    brokerCounter: 2,
  };
  await a.outgoingEnqueueCombi([{ clientId: 'c1' }], p1);
  await a.outgoingEnqueue({ clientId: 'c1' }, p2);
  await a.outgoingUpdate(client, { ...p1, messageId: 41 });
  await a.incomingStorePacket(client, {
    cmd: 'publish',
    topic: 'in/1',
    payload: Buffer.from('x'),
    qos: 2,
    messageId: 9,
  });
  await a.putWill(client, { cmd: 'publish', topic: 'will/c1', payload: Buffer.from('gone'), qos: 1, retain: false });

  const b = new SqlitePersistence(openDatabase(file));
  await b.setup(broker);
  const retained: { topic: string }[] = await (
    b as unknown as { createRetainedStream(p: string): { toArray(): Promise<{ topic: string }[]> } }
  )
    .createRetainedStream('#')
    .toArray();
  assert.deepEqual(
    retained.map((r) => r.topic),
    ['r/1'],
  );
  const subs = await (
    b as unknown as { subscriptionsByClient(c: object): Promise<{ topic: string; qos: number }[]> }
  ).subscriptionsByClient(client);
  assert.deepEqual(
    subs.map((s) => [s.topic, s.qos]),
    [
      ['q/#', 1],
      ['z/+', 2],
    ],
  );
  const queued = await (
    b as unknown as {
      outgoingStream(c: object): { toArray(): Promise<{ topic: string; payload: Buffer; messageId?: number }[]> };
    }
  )
    .outgoingStream(client)
    .toArray();
  assert.deepEqual(
    queued.map((q) => [q.topic, q.messageId]),
    [
      ['q/1', 41],
      ['q/2', undefined],
    ],
  );
  assert.deepEqual([...queued[0]!.payload], [0, 1, 2, 255]);
  const incoming = await (
    b as unknown as { incomingGetPacket(c: object, p: object): Promise<{ topic: string }> }
  ).incomingGetPacket(client, { messageId: 9 });
  assert.equal(incoming.topic, 'in/1');
  const will = await (b as unknown as { getWill(c: object): Promise<{ topic: string }> }).getWill(client);
  assert.equal(will.topic, 'will/c1');

  // acknowledging the first message removes it from the file too
  await b.outgoingClearMessageId(client, { topic: 'q/1', payload: Buffer.alloc(0), qos: 1, messageId: 41 });
  const c = new SqlitePersistence(openDatabase(file));
  await c.setup(broker);
  const left = await (c as unknown as { outgoingStream(c: object): { toArray(): Promise<{ topic: string }[]> } })
    .outgoingStream(client)
    .toArray();
  assert.deepEqual(
    left.map((q) => q.topic),
    ['q/2'],
  );
  removeDir(dir);
});

test('group commit: a write that fails fails only its own caller; the others in the same batch are stored', async () => {
  const db = openDatabase(':memory:');
  const p = new SqlitePersistence(db);
  await p.setup({ id: 'b' });
  const ok = p.storeRetained({ topic: 'keep/me', payload: Buffer.from('v'), qos: 0, retain: true });
  // message_id is NOT NULL in broker_incoming: this row cannot be written
  const bad = p.incomingStorePacket(
    { id: 'c' },
    { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: undefined },
  );
  const ok2 = p.addSubscriptions({ id: 'c' }, [{ topic: 'a/#', qos: 1 }]);
  await ok;
  await assert.rejects(bad, /NOT NULL/);
  await ok2;
  assert.equal((db.prepare('SELECT count(*) AS n FROM broker_retained').get() as { n: number }).n, 1);
  assert.equal((db.prepare('SELECT count(*) AS n FROM broker_subscriptions').get() as { n: number }).n, 1);
  db.close();
});

test('a packet that carries a callback (as Aedes hands over a PUBREL it is delivering) is stored without it', async () => {
  const db = openDatabase(':memory:');
  const p = new SqlitePersistence(db);
  await p.setup({ id: 'b' });
  const client = { id: 'q2' };
  const publish = {
    cmd: 'publish',
    topic: 't',
    payload: Buffer.from('x'),
    qos: 2,
    brokerId: 'b',
    brokerCounter: 1,
    retain: false,
    dup: false,
  };
  await p.outgoingEnqueue({ clientId: 'q2' }, publish);
  await p.outgoingUpdate(client, { ...publish, messageId: 9 });
  // the PUBREL that replaces it (found by its packet id) comes with a write callback
  await p.outgoingUpdate(client, {
    cmd: 'pubrel',
    topic: '',
    payload: Buffer.alloc(0),
    qos: 1,
    messageId: 9,
    writeCallback: () => {},
  });
  const rows = db.prepare('SELECT packet FROM broker_outgoing').all() as { packet: Buffer }[];
  assert.equal(rows.length, 1);
  assert.equal(deserialize(rows[0]!.packet).cmd, 'pubrel');
  db.close();
});

test("the hub's own connection keeps its inbound QoS 2 state across a clean connect; other clients' is cleaned", async () => {
  const db = openDatabase(':memory:');
  const hubConn = {};
  const p = new BrokerPersistence(db, (c) => c.conn === hubConn);
  await p.setup({ id: 'b' });
  const packet = { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: 5 };
  await p.incomingStorePacket({ id: 'hub', conn: hubConn }, packet);
  await p.incomingStorePacket({ id: 'device', conn: {} }, packet);
  await p.cleanIncoming({ id: 'hub', conn: hubConn });
  await p.cleanIncoming({ id: 'device', conn: {} });
  const rows = db.prepare('SELECT client_id FROM broker_incoming').all() as { client_id: string }[];
  assert.deepEqual(
    rows.map((r) => r.client_id),
    ['hub'],
    'a resent PUBLISH from the outbox is then known as a duplicate',
  );
  db.close();
});
