// Bad input on the wire: the offending client is dropped and logged, everyone else is served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startHub, connect, portOf, removeDir, roundTrip, waitFor, type TestHub } from '../helpers.js';
import { RawClient } from '../raw-client.js';

let h: TestHub;
before(async () => {
  h = await startHub({ broker: { connect_timeout_ms: 300, max_packet_size: 4096, max_connections: 50 } });
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

const raw = () => RawClient.open(portOf(h.url));
const stillServes = () => roundTrip(h.url);

const connectPacket = mqttPacket.generate({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 4,
  clean: true,
  clientId: 'raw',
  keepalive: 0,
} as mqttPacket.IConnectPacket);

test('random bytes: the client is dropped, others are served', async () => {
  const s = await raw();
  s.sendBytes(Buffer.from([0xff, 0x13, 0x37, 0x00, 0x42, 0x99, 0xde, 0xad, 0xbe, 0xef]));
  assert.ok(await s.closedWithin(3000));
  await stillServes();
});

test('a truncated CONNECT followed by silence is dropped at the connect timeout', async () => {
  const s = await raw();
  s.sendBytes(connectPacket.subarray(0, 6));
  assert.ok(await s.closedWithin(3000));
  await stillServes();
});

test('a client that never sends CONNECT is dropped at the connect timeout [MQTT-3.1.0-1]', async () => {
  const s = await raw();
  assert.ok(await s.closedWithin(3000));
  await stillServes();
});

test('an oversized packet is refused from its header, before it is buffered', async () => {
  const c = await connect(h.url);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish('big/one', Buffer.alloc(10000, 1));
  await closed;
  await stillServes();
});

test('a remaining length over 4 bytes is malformed and dropped [MQTT-2.2.3]', async () => {
  const s = await raw();
  s.sendBytes(connectPacket);
  await s.next('connack'); // the CONNECT is through
  s.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]));
  assert.ok(await s.closedWithin(3000));
  await stillServes();
});

test('a second CONNECT on one connection is a protocol violation and drops it [MQTT-3.1.0-2]', async () => {
  const s = await raw();
  s.sendBytes(connectPacket);
  await s.next('connack'); // the CONNECT is through
  s.sendBytes(connectPacket);
  assert.ok(await s.closedWithin(3000));
  await stillServes();
});

test('a CONNECT flood beyond max_connections is refused and the broker keeps serving', async () => {
  const sockets = await Promise.all(Array.from({ length: 80 }, () => raw()));
  for (const s of sockets) s.sendBytes(connectPacket.subarray(0, 4));
  // at most max_connections stay open (the rest are refused at once)
  await waitFor(
    () => sockets.filter((s) => !s.closed).length <= 50,
    3000,
    `at most 50 open (${sockets.filter((s) => !s.closed).length})`,
  );
  for (const s of sockets) s.drop();
  await stillServes();
});

test('mutated valid packets never crash the broker', async () => {
  const packets: Buffer[] = [
    connectPacket,
    mqttPacket.generate({
      cmd: 'publish',
      topic: 'fuzz/t',
      payload: Buffer.from('hello'),
      qos: 1,
      messageId: 7,
      retain: false,
      dup: false,
    } as mqttPacket.IPublishPacket),
    mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [{ topic: 'fuzz/#', qos: 1 }],
    } as mqttPacket.ISubscribePacket),
  ];
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 300; i++) {
    const s = await raw();
    const stream = Buffer.concat(packets.map((p) => Buffer.from(p)));
    for (let k = 0; k < 3; k++) stream[Math.floor(rnd() * stream.length)] = Math.floor(rnd() * 256);
    s.sendBytes(stream);
    if (i % 50 === 49) await stillServes();
    s.drop();
  }
  await stillServes();
});
