// The MQTT explorer's topic tree: kept from its first viewer for as long as the hub runs (not
// forgotten when the viewer leaves), bounded in topics and payload bytes (oldest first), and a
// retained message can be cleared through the API.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type MqttMessageEvent } from '../../src/events.js';
import { MqttExplorer } from '../../src/mqtt/explorer.js';
import { createLogger } from '../../src/log.js';
import { startHub, connect, collect, removeDir } from '../helpers.js';

/** An explorer over a stand-in bus: the messages it gets are the events this test emits. */
function explorer(bounds: { maxTopics?: number; maxBytes?: number } = {}) {
  const events = new EventBus();
  const calls: string[] = [];
  const bus = {
    subscribe: async (f: string) => {
      calls.push(`subscribe ${f}`);
    },
    unsubscribe: async (f: string) => {
      calls.push(`unsubscribe ${f}`);
    },
  };
  const trace = { lastSource: () => undefined };
  const e = new MqttExplorer({
    bus: bus as never,
    events,
    trace: trace as never,
    log: createLogger('silent'),
    ...bounds,
  });
  const message = (topic: string, payload: string, retain = false) =>
    events.emit('mqtt.message', { topic, payload: Buffer.from(payload), qos: 0, retain } as MqttMessageEvent);
  return { e, message, calls };
}

test('the topic tree stays after the last viewer leaves, however long nobody looks', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const { e, message, calls } = explorer();
  const stop = await e.watch();
  message('hall/temp', '21.5'); // not retained: only the explorer remembers it
  stop();
  t.mock.timers.tick(24 * 3600 * 1000);
  await Promise.resolve();
  assert.deepEqual(
    e.snapshot().map((m) => `${m.topic}=${m.payload}`),
    ['hall/temp=21.5'],
  );
  assert.deepEqual(calls, ['subscribe #'], 'still subscribed, never unsubscribed');
  await e.watch(); // a new viewer: no second subscription
  assert.deepEqual(calls, ['subscribe #']);
  mock.timers.reset();
});

test('bounded: past max topics or max bytes the oldest topics go first', async () => {
  const { e, message } = explorer({ maxTopics: 10, maxBytes: 1000 });
  await e.watch();
  for (let i = 0; i < 15; i++) message(`t/${i}`, 'x');
  message('t/3', 'again'); // seen again: it is new now
  assert.deepEqual(
    e
      .snapshot()
      .map((m) => m.topic)
      .sort(),
    ['t/10', 't/11', 't/12', 't/13', 't/14', 't/3', 't/6', 't/7', 't/8', 't/9'].sort(),
  );
  message('big/a', 'a'.repeat(600));
  message('big/b', 'b'.repeat(600)); // 1200 bytes of payload: big/a (older) must go
  const topics = e.snapshot().map((m) => m.topic);
  assert.ok(topics.includes('big/b') && !topics.includes('big/a'), topics.join(','));
  assert.ok(e.size.bytes <= 1000, `bytes kept: ${e.size.bytes}`);
  assert.ok(e.size.evicted >= 7);
  message('big/b', '', true); // an empty retained message removes the topic
  assert.ok(!e.snapshot().some((m) => m.topic === 'big/b'));
});

test('DELETE /api/mqtt/retained clears a retained message; a new subscriber gets nothing for it', async () => {
  const h = await startHub({ http: { enabled: true, port: 0 } });
  try {
    const c = await connect(h.url);
    await c.publishAsync('hall/scene', 'evening', { qos: 1, retain: true });
    const res = await fetch(`${h.hub.api!.url}/api/mqtt/retained?topic=${encodeURIComponent('hall/scene')}`, {
      method: 'DELETE',
    });
    assert.equal(res.status, 200, await res.text());
    await c.publishAsync('hall/after', 'sentinel', { qos: 1, retain: true });
    const late = await connect(h.url);
    const got = collect(late);
    await late.subscribeAsync(['hall/#'], { qos: 1 });
    await got.next(1);
    assert.deepEqual(
      got.messages.map((m) => m.topic),
      ['hall/after'],
    );
    const bad = await fetch(`${h.hub.api!.url}/api/mqtt/retained?topic=${encodeURIComponent('hall/#')}`, {
      method: 'DELETE',
    });
    assert.equal(bad.status, 400);
    c.end();
    late.end();
  } finally {
    await h.stop();
    removeDir(h.dir);
  }
});
