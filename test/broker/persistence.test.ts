// Persistent sessions and retained messages survive a restart and kill -9 of the hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub,
  connect,
  connectCollecting,
  collect,
  tempDir,
  removeDir,
  serve,
  freePort,
  portOf,
} from '../helpers.js';
import { RawClient } from '../raw-client.js';

async function offlineSubscriber(url: string, clientId: string): Promise<void> {
  const c = await connect(url, { clientId, clean: false });
  await c.subscribeAsync('persist/#', { qos: 1 });
  await c.endAsync();
}

test('a persistent session gets the QoS 1 messages published while it was offline, across a hub restart', async () => {
  const dir = tempDir();
  let h = await startHub({}, dir);
  const port = await freePort();
  await h.stop();
  h = await startHub({ broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }] } }, dir);
  await offlineSubscriber(h.url, 'persistent-1');
  const pub = await connect(h.url);
  for (let i = 0; i < 20; i++) await pub.publishAsync('persist/a', `m${i}`, { qos: 1 });
  await pub.publishAsync('persist/retained', 'kept', { qos: 1, retain: true });
  await pub.endAsync();
  await h.stop();

  h = await startHub({ broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port }] } }, dir);
  const { client: c, got } = await connectCollecting(h.url, { clientId: 'persistent-1', clean: false });
  assert.equal(c.sessionPresent, true, 'session present after restart [MQTT-3.2.2-2]');
  await got.next(21);
  assert.deepEqual(
    got.messages.filter((m) => m.topic === 'persist/a').map((m) => m.payload.toString()),
    Array.from({ length: 20 }, (_, i) => `m${i}`),
  );
  await c.endAsync();
  const late = await connect(h.url);
  const got2 = collect(late);
  await late.subscribeAsync('persist/retained');
  assert.equal((await got2.next(1))[0]!.payload.toString(), 'kept');
  await late.endAsync();
  await h.stop();
  removeDir(dir);
});

test('queued QoS 1 messages and retained values survive kill -9 of the hub', async () => {
  const dir = tempDir();
  const port = await freePort();
  const args = ['--data', dir, '--mqtt-port', String(port), '--http-port', '0'];
  let s = await serve(args, { env: { SMART_HOME_LOG_LEVEL: 'warn' } });
  await offlineSubscriber(s.url, 'survivor');
  const pub = await connect(s.url);
  for (let i = 0; i < 50; i++) await pub.publishAsync('persist/k', `k${i}`, { qos: 1 });
  await pub.publishAsync('persist/r', 'retained-before-crash', { qos: 1, retain: true });
  pub.end(true);
  s.child.kill('SIGKILL');
  await s.exited;

  s = await serve(args, { env: { SMART_HOME_LOG_LEVEL: 'warn' } });
  try {
    const { client: c, got } = await connectCollecting(s.url, { clientId: 'survivor', clean: false });
    await got.next(51);
    const k = got.messages.filter((m) => m.topic === 'persist/k').map((m) => m.payload.toString());
    assert.deepEqual(
      k,
      Array.from({ length: 50 }, (_, i) => `k${i}`),
      'every acknowledged QoS 1 message, in order',
    );
    await c.endAsync();
    const late = await connect(s.url);
    const got2 = collect(late);
    await late.subscribeAsync('persist/r');
    assert.equal((await got2.next(1))[0]!.payload.toString(), 'retained-before-crash');
    await late.endAsync();
  } finally {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, 'SIGTERM stops the hub cleanly with exit code 0');
    removeDir(dir);
  }
});

test('a QoS 1 PUBACK leaves only once the message is stored for the offline session (Aedes acknowledged first)', async () => {
  const h = await startHub();
  try {
    await offlineSubscriber(h.url, 'stored-first');
    const count = () =>
      (
        h.hub.db.prepare("SELECT count(*) AS n FROM broker_outgoing WHERE client_id = 'stored-first'").get() as {
          n: number;
        }
      ).n;
    const { c } = await RawClient.connected(portOf(h.url));
    const atAck: number[] = [];
    for (let i = 1; i <= 20; i++) {
      c.send({
        cmd: 'publish',
        topic: 'persist/acked',
        payload: Buffer.from(String(i)),
        qos: 1,
        messageId: i,
        retain: false,
        dup: false,
      });
      await c.next('puback');
      atAck.push(count()); // read the moment the PUBACK is seen
    }
    assert.deepEqual(
      atAck,
      Array.from({ length: 20 }, (_, i) => i + 1),
      'each message was in the queue table when its PUBACK arrived',
    );
    c.disconnect();
  } finally {
    await h.stop();
    removeDir(h.dir);
  }
});

test('QoS 1 deliveries to a clean session write nothing to SQLite; to a persistent session each is stored (issue 22)', async () => {
  const h = await startHub();
  try {
    const broker = h.hub.broker!;
    const pub = await connect(h.url);
    const clean = await connect(h.url, { clean: true });
    await clean.subscribeAsync('fast/#', { qos: 1 });
    const got = collect(clean);
    const before = broker.persistenceWrites;
    for (let i = 0; i < 20; i++) await pub.publishAsync('fast/a', `m${i}`, { qos: 1 });
    await got.next(20);
    // each delivery's message id and PUBACK found no stored row: no write transaction for them
    assert.equal(broker.persistenceWrites - before, 0, 'writes for 20 QoS 1 deliveries to a clean session');

    const durable = await connect(h.url, { clientId: 'durable-1', clean: false });
    await durable.subscribeAsync('slow/#', { qos: 1 });
    const got2 = collect(durable);
    const before2 = broker.persistenceWrites;
    for (let i = 0; i < 20; i++) await pub.publishAsync('slow/a', `m${i}`, { qos: 1 });
    await got2.next(20);
    // queued, given its message id, cleared by the PUBACK: every step is on disk for a persistent session
    assert.ok(
      broker.persistenceWrites - before2 >= 40,
      `writes for a persistent session: ${broker.persistenceWrites - before2}`,
    );
    await durable.endAsync();
    await clean.endAsync();
    await pub.endAsync();
  } finally {
    await h.stop();
  }
});
