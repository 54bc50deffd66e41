// A subscriber that stops reading stalls nobody (issue 14). Aedes waits for 'drain' on a client
// whose socket reports backpressure, and with enough such waits in flight its message pipeline
// stops for every client: a healthy subscriber got 345 of 513 messages, never the last. Now the
// slow client's data waits in its own socket buffer, bounded by broker.max_client_buffer_kb, and
// past that it is dropped as a slow consumer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startHub, connect, collect, removeDir, portOf, waitFor, type TestHub } from '../helpers.js';
import { RawClient } from '../raw-client.js';

let h: TestHub;
before(async () => {
  h = await startHub({ broker: { max_client_buffer_kb: 256 } });
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('a # subscriber that stops reading: everyone else gets every message, and the reader is dropped past its buffer', async () => {
  // a raw client subscribes to # and then never reads its socket again
  const { c: stuck } = await RawClient.connected(portOf(h.url), { clientId: 'stuck-reader' });
  stuck.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [{ topic: '#', qos: 0 }],
  } as mqttPacket.ISubscribePacket);
  await stuck.next('suback');
  stuck.socket.pause();
  const healthy = await connect(h.url, { clientId: 'healthy-reader' });
  const got = collect(healthy);
  await healthy.subscribeAsync('unrelated/#', { qos: 0 });
  const publisher = await connect(h.url, { clientId: 'busy-publisher' });
  const payload = Buffer.alloc(16 * 1024, 0x61);
  // 8 MiB: far more than the stuck reader's socket and its 256 KiB allowance
  for (let i = 0; i < 512; i++) await publisher.publishAsync(`unrelated/${i % 8}`, payload, { qos: 1 });
  await publisher.publishAsync('unrelated/last', 'last', { qos: 1 });
  const all = await got.next(513, 10_000);
  assert.equal(all.at(-1)!.topic, 'unrelated/last');
  await waitFor(
    () => (h.hub.broker as unknown as { stats: { slowConsumersDropped: number } }).stats.slowConsumersDropped === 1,
    5000,
    'the slow consumer to be dropped',
  );
  stuck.socket.resume(); // it sees the close once it reads again
  assert.ok(await stuck.closedWithin(5000));
  publisher.end(true);
  healthy.end(true);
});

test('a client behind on a burst of retained messages, but reading, is not dropped', async () => {
  // 6.4 MB of retained messages: the kernel's loopback buffers take a few MB, the rest waits on
  // the broker's side, over the 1 MiB allowance and under 8 times it
  const h = await startHub({ broker: { max_client_buffer_kb: 1024 } });
  const publisher = await connect(h.url, { clientId: 'retainer' });
  const payload = Buffer.alloc(16 * 1024, 0x62);
  for (let i = 0; i < 400; i++) await publisher.publishAsync(`burst/${i}`, payload, { qos: 1, retain: true });
  publisher.end(true);
  const dropped = () =>
    (h.hub.broker as unknown as { stats: { slowConsumersDropped: number } }).stats.slowConsumersDropped;
  const before = dropped();
  const { c } = await RawClient.connected(portOf(h.url), { clientId: 'late-reader' });
  c.socket.pause();
  c.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [{ topic: 'burst/#', qos: 0 }],
  } as mqttPacket.ISubscribePacket);
  const sockets = (h.hub.broker as unknown as { sockets: Set<{ writableLength: number }> }).sockets;
  await waitFor(() => [...sockets].some((s) => s.writableLength > 1024 * 1024), 5000, 'the burst to back up');
  c.socket.resume();
  for (let i = 0; i < 400; i++) await c.next('publish');
  assert.equal(dropped(), before);
  assert.equal(c.closed, false);
  c.drop();
  await h.stop();
  removeDir(h.dir);
});
