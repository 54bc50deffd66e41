// Delivery through the embedded broker, with mqtt.js and Debian's mosquitto clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHub, connect, collect, portOf, removeDir, type TestHub } from '../helpers.js';

const exec = promisify(execFile);
let h: TestHub;
before(async () => {
  h = await startHub();
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

for (const qos of [0, 1, 2] as const) {
  test(`QoS ${qos} message reaches a subscriber with the granted QoS [MQTT-3.8.4-6]`, async () => {
    const sub = await connect(h.url);
    const pub = await connect(h.url);
    const got = collect(sub);
    const granted = await sub.subscribeAsync(`d/qos${qos}`, { qos });
    assert.equal(granted[0]!.qos, qos);
    await pub.publishAsync(`d/qos${qos}`, `hello ${qos}`, { qos });
    const [m] = await got.next(1);
    assert.equal(m!.payload.toString(), `hello ${qos}`);
    assert.equal(m!.qos, qos);
    sub.end();
    pub.end();
  });
}

test('a retained message reaches a later subscriber and an empty retained payload clears it [MQTT-3.3.1-5] [MQTT-3.3.1-10]', async () => {
  const pub = await connect(h.url);
  await pub.publishAsync('r/lamp', 'on', { qos: 1, retain: true });
  const late = await connect(h.url);
  const got = collect(late);
  await late.subscribeAsync('r/lamp', { qos: 1 });
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), 'on');
  assert.equal(m!.retain, true);
  late.end();

  await pub.publishAsync('r/lamp', '', { qos: 1, retain: true });
  await pub.publishAsync('r/marker', 'm', { qos: 1, retain: true });
  const later = await connect(h.url);
  const got2 = collect(later);
  // Retained messages come in subscription order: once the marker is here, the lamp had its chance.
  await later.subscribeAsync('r/lamp', { qos: 1 });
  await later.subscribeAsync('r/marker', { qos: 1 });
  await got2.next(1);
  assert.deepEqual(
    got2.messages.map((x) => x.topic),
    ['r/marker'],
    'the cleared retained message must not be delivered',
  );
  later.end();
  pub.end();
});

test('mosquitto_pub and mosquitto_sub interoperate with the embedded broker', async () => {
  const port = String(portOf(h.url));
  const sub = exec('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-t',
    'interop/#',
    '-C',
    '1',
    '-W',
    '10',
    '-q',
    '2',
    '-v',
  ]);
  // mosquitto_sub needs a moment to subscribe; publish retained so timing cannot lose it.
  await exec('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    port,
    '-t',
    'interop/x',
    '-m',
    'from mosquitto_pub',
    '-q',
    '2',
    '-r',
  ]);
  const { stdout } = await sub;
  assert.equal(stdout.trim(), 'interop/x from mosquitto_pub');
});

test('$SYS topics report version, uptime and counters like Mosquitto', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('$SYS/broker/#');
  await got.next(5);
  const topics = got.messages.map((m) => m.topic);
  for (const t of [
    '$SYS/broker/version',
    '$SYS/broker/uptime',
    '$SYS/broker/clients/connected',
    '$SYS/broker/messages/received',
    '$SYS/broker/messages/sent',
  ]) {
    assert.ok(topics.includes(t), `missing ${t}`);
  }
  assert.match(
    got.messages.find((m) => m.topic === '$SYS/broker/version')!.payload.toString(),
    /^smart-home \d+\.\d+\.\d+/,
  );
  c.end();
});

test('a # subscription does not receive $SYS topics [MQTT-4.7.2-1]', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('#');
  await c.publishAsync('plain/topic', 'x');
  await got.next(1);
  assert.ok(got.messages.every((m) => !m.topic.startsWith('$')));
  c.end();
});
