// The bridge from the embedded broker to Debian's Mosquitto: out, in, both (no loops),
// prefixes, and QoS 1 messages kept while the upstream is away.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub,
  tempDir,
  freePort,
  connect,
  collect,
  capturingLogger,
  startMosquitto,
  waitFor,
  type TestHub,
} from '../helpers.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Debian's Mosquitto on `port` (the same port again after a stop: the upstream coming back). */
async function mosquitto(port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const m = await startMosquitto('', port);
  cleanups.push(() => m.stop());
  return m;
}

test('bridge: out, in and both directions, prefixes, and no message loops back', async () => {
  const up = await mosquitto(await freePort());
  const t: TestHub = await startHub({
    bridges: [
      {
        name: 'cloud',
        url: up.url,
        topics: [
          { pattern: 'out/#', direction: 'out' },
          { pattern: 'in/#', direction: 'in' },
          { pattern: 'both/#', direction: 'both', qos: 1 },
          { pattern: 'sensors/#', direction: 'out', remote_prefix: 'house1/' },
        ],
      },
    ],
  });
  cleanups.push(() => t.stop());
  const local = await connect(t.url);
  const remote = await connect(up.url);
  const l = collect(local);
  const r = collect(remote);
  await local.subscribeAsync(['in/#', 'both/#', 'out/#'], { qos: 1 });
  await remote.subscribeAsync(['out/#', 'both/#', 'house1/#', 'in/#'], { qos: 1 });
  await t.hub.bridges[0]!.ready; // connected, its upstream subscriptions acknowledged
  await local.publishAsync('out/a', 'to the cloud', { qos: 1 });
  await remote.publishAsync('in/b', 'from the cloud', { qos: 1 });
  await local.publishAsync('both/c', 'local both', { qos: 1 });
  await remote.publishAsync('both/d', 'remote both', { qos: 1 });
  await local.publishAsync('sensors/t', '21.5', { qos: 1 });
  await remote.publishAsync('out/z', 'stays upstream', { qos: 1 });
  await waitFor(() => r.messages.length >= 6 && l.messages.length >= 4, 5000, 'every forwarded message');
  // one more round trip each way: a copy sent back (a loop) would have come in before these
  await remote.publishAsync('both/end', 'remote end', { qos: 1 });
  await local.publishAsync('both/end2', 'local end', { qos: 1 });
  await waitFor(
    () =>
      ['both/end', 'both/end2'].every(
        (x) => l.messages.some((m) => m.topic === x) && r.messages.some((m) => m.topic === x),
      ),
    5000,
    'the last round trips',
  );
  for (const c of [l, r])
    c.messages.splice(0, c.messages.length, ...c.messages.filter((m) => !m.topic.startsWith('both/end')));
  const seen = (msgs: { topic: string; payload: Buffer }[]) => msgs.map((m) => `${m.topic}=${m.payload}`).sort();
  assert.deepEqual(seen(r.messages), [
    'both/c=local both',
    'both/d=remote both',
    'house1/sensors/t=21.5',
    'in/b=from the cloud',
    'out/a=to the cloud',
    'out/z=stays upstream',
  ]);
  assert.deepEqual(seen(l.messages), [
    'both/c=local both',
    'both/d=remote both',
    'in/b=from the cloud',
    'out/a=to the cloud',
  ]);
  // what the bridge itself delivered came back to it once each (in/b and both/d locally, both/c
  // upstream) and was not sent again
  assert.equal(t.hub.bridges[0]!.stats.loopsCut, 5); // and the two closing round trips once each
  assert.deepEqual([t.hub.bridges[0]!.stats.out, t.hub.bridges[0]!.stats.in], [4, 3]);
});

test('bridge: QoS 1 messages published while the upstream is away are delivered when it is back', async () => {
  const port = await freePort();
  let up = await mosquitto(port);
  const t = await startHub({
    bridges: [{ name: 'cloud', url: up.url, topics: [{ pattern: 'keep/#', direction: 'out', qos: 1 }] }],
  });
  cleanups.push(() => t.stop());
  await waitFor(() => t.hub.bridges[0]!.connected, 5000, 'the bridge to connect');
  await up.stop();
  await waitFor(() => !t.hub.bridges[0]!.connected, 5000, 'the bridge to notice');
  const local = await connect(t.url);
  for (let i = 0; i < 20; i++) await local.publishAsync(`keep/${i}`, String(i), { qos: 1, retain: true });
  up = await mosquitto(port);
  await waitFor(() => t.hub.bridges[0]!.connected, 10_000, 'the bridge to reconnect');
  const remote = await connect(up.url);
  const r = collect(remote);
  await remote.subscribeAsync('keep/#', { qos: 1 });
  await r.next(20, 5000);
  assert.deepEqual(
    r.messages.map((m) => Number(m.payload)).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
});

test('bridge: /api/status and /metrics show each bridge, connected or not, with its counts; its log lines name it once', async () => {
  const up = await mosquitto(await freePort());
  const downPort = await freePort(); // nothing listens there
  const logger = capturingLogger('info');
  const t: TestHub = await startHub(
    {
      http: { enabled: true, port: 0 },
      bridges: [
        { name: 'cloud', url: up.url, topics: [{ pattern: 'out/#', direction: 'out' }] },
        { name: 'away', url: `mqtt://127.0.0.1:${downPort}`, topics: [{ pattern: 'x/#', direction: 'out' }] },
      ],
    },
    tempDir(),
    logger.log,
  );
  cleanups.push(() => t.stop());
  const remote = await connect(up.url);
  const got = collect(remote);
  await remote.subscribeAsync('out/#', { qos: 1 });
  const local = await connect(t.url);
  await waitFor(() => t.hub.bridges[0]!.connected, 5000, 'bridge connected');
  await local.publishAsync('out/one', '1', { qos: 1 });
  await got.next(1);
  const status = (
    (await (await fetch(`${t.hub.api!.url}/api/status`)).json()) as {
      data: { bridges: { name: string; connected: boolean; out: number; url: string; lastError?: string }[] };
    }
  ).data.bridges;
  assert.deepEqual(
    status.map((b) => [b.name, b.connected, b.out]),
    [
      ['cloud', true, 1],
      ['away', false, 0],
    ],
  );
  await logger.line((l) => l.msg === 'bridge: upstream connection error', 'the away bridge failing');
  const away = (
    (await (await fetch(`${t.hub.api!.url}/api/status`)).json()) as { data: { bridges: { lastError?: string }[] } }
  ).data.bridges[1]!;
  assert.match(away.lastError ?? '', /ECONNREFUSED/);
  const metrics = await (await fetch(`${t.hub.api!.url}/metrics`)).text();
  assert.match(metrics, /^smart_home_bridge_connected\{bridge="cloud"\} 1$/m);
  assert.match(metrics, /^smart_home_bridge_connected\{bridge="away"\} 0$/m);
  assert.match(metrics, /^smart_home_bridge_messages_total\{bridge="cloud",direction="out"\} 1$/m);
  // pino writes a duplicated key twice in one JSON line; the parsed line hides that, the raw one not
  const raw = logger.raw.filter((l) => l.includes('bridge connected'));
  assert.ok(raw.length > 0);
  for (const line of raw) assert.equal(line.split('"bridge":').length - 1, 1, line);
  local.end();
  remote.end();
});
