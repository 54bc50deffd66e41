// MQTT input for scripts: Mqtt.subscribe, ordering, backpressure, loop protection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, collect, waitFor, sleep, removeDir, type TestHub } from '../helpers.js';
import type { Script } from '../../src/scripts/engine.js';

let h: TestHub;
before(async () => {
  h = await startHub({ scripts: { queue_size: 5, max_hops: 4 } });
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

let n = 0;
/** Loads a script and waits until the broker acknowledged the subscriptions its top level made. */
const load = async (source: string, name = `sub-${++n}.js`) => {
  const s = await h.hub.scripts.load(`/scripts/${name}`, {}, source);
  await h.hub.scripts.inputs.subscribed(s.name);
  return s;
};
/** A script that logs what it hears on `filter`: once it heard a message, so did every script subscribed before it. */
const witness = (filter: string) =>
  load(`Mqtt.subscribe(${JSON.stringify(filter)}, (m) => console.log('heard ' + m.topic + ' ' + m.payload));`);
const logsOf = (s: Script) => s.logs.map((l) => l.message);
const errorsOf = (s: Script) => s.logs.filter((l) => l.level === 'error').map((l) => l.message);

test('a handler gets topic, payload, bytes, json, qos, retain and the wildcard captures', async () => {
  const s = await load(`
    Mqtt.subscribe('sensors/+/temp/#', (m) => {
      console.log(JSON.stringify({ topic: m.topic, payload: m.payload, json: m.json, qos: m.qos, retain: m.retain, params: m.params, bytes: Array.from(m.bytes) }));
    });
  `);
  const c = await connect(h.url);
  await c.publishAsync('sensors/kitchen/temp/now', '{"c":21.5}', { qos: 1 });
  await waitFor(() => s.logs.length >= 1);
  assert.deepEqual(JSON.parse(logsOf(s)[0]!), {
    topic: 'sensors/kitchen/temp/now',
    payload: '{"c":21.5}',
    json: { c: 21.5 },
    qos: 1,
    retain: false,
    params: ['kitchen', 'now'],
    bytes: [...Buffer.from('{"c":21.5}')],
  });
  c.end();
});

test('binary and non-UTF-8 payloads arrive intact and round-trip byte-exact', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('bin/out', { qos: 1 });
  await load(`Mqtt.subscribe('bin/in', (m) => Mqtt.publish('bin/out', m.bytes, 1));`);
  const bytes = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x7f, 0x0a, 0x00]);
  await c.publishAsync('bin/in', bytes, { qos: 1 });
  const [m] = await got.next(1);
  assert.deepEqual([...m!.payload], [...bytes]);
  c.end();
});

test('unsubscribe stops delivery; reloading a script drops its subscriptions', async () => {
  const s = await load(
    `
    let count = 0;
    const off = Mqtt.subscribe('u/x', () => { count++; console.log('got ' + count); if (count === 1) off(); });
  `,
    'unsub.js',
  );
  const c = await connect(h.url);
  await c.publishAsync('u/x', '1', { qos: 1 });
  await waitFor(() => s.logs.length >= 1);
  const w = await witness('u/x');
  await c.publishAsync('u/x', '2', { qos: 1 });
  await waitFor(() => logsOf(w).includes('heard u/x 2'), 5000, 'the witness');
  assert.deepEqual(logsOf(s), ['got 1']);
  const again = await load(`Mqtt.subscribe('u/y', () => console.log('old'));`, 'reload.js');
  assert.equal(h.hub.scripts.inputs.stats('reload.js')!.subscriptions, 1);
  const reloaded = await load(`console.log('no subscriptions');`, 'reload.js');
  assert.notEqual(again, reloaded);
  assert.equal(h.hub.scripts.inputs.stats('reload.js')!.subscriptions, 0);
  const wy = await witness('u/y');
  await c.publishAsync('u/y', '1', { qos: 1 });
  await waitFor(() => logsOf(wy).includes('heard u/y 1'), 5000, 'the witness');
  assert.deepEqual(logsOf(reloaded), ['no subscriptions']);
  assert.ok(!logsOf(again).includes('old'), 'the replaced version heard nothing');
  c.end();
});

test('events are handled one at a time, in arrival order, even with async handlers', async () => {
  const s = await load(`
    Mqtt.subscribe('order/#', async (m) => {
      console.log('start ' + m.payload);
      await new Promise((r) => setTimeout(r, 5));
      console.log('end ' + m.payload);
    });
  `);
  const c = await connect(h.url);
  for (const p of ['a', 'b', 'c']) await c.publishAsync('order/x', p, { qos: 1 });
  await waitFor(() => s.logs.length >= 6);
  assert.deepEqual(logsOf(s), ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  c.end();
});

test('a full queue drops messages, counts them and says so in the log (never silently)', async () => {
  const s = await load(
    `
    Mqtt.subscribe('slow/#', async () => { await new Promise((r) => setTimeout(r, 200)); });
  `,
    'slow.js',
  );
  const c = await connect(h.url);
  for (let i = 0; i < 20; i++) c.publish('slow/x', String(i), { qos: 0 });
  await waitFor(() => (h.hub.scripts.inputs.stats('slow.js')?.overflows ?? 0) > 0);
  const stats = h.hub.scripts.list().find((x) => x.name === 'slow.js')!;
  assert.ok(stats.overflows >= 1 && stats.queued <= 5, JSON.stringify(stats));
  assert.match(
    s.logs.find((l) => l.level === 'warn')!.message,
    /input queue full \(scripts\.queue_size 5\): dropped a message on slow\/x; 1 dropped so far/,
  );
  h.hub.scripts.unload('slow.js');
  c.end();
});

test('a script does not hear its own publishes unless it opts in', async () => {
  const s = await load(`
    Mqtt.subscribe('echo/topic', (m) => console.log('plain heard ' + m.payload));
    Mqtt.subscribe('echo/topic', (m) => console.log('self heard ' + m.payload), { self: true });
    setTimeout(() => Mqtt.publish('echo/topic', 'mine', 1), 50);
  `);
  await waitFor(() => logsOf(s).includes('self heard mine'), 5000, 'its own message, opted in');
  const we = await witness('echo/topic');
  await h.hub.scripts.load('/scripts/echo-again.js', {}, "Mqtt.publish('echo/topic', 'second', 1);");
  await waitFor(() => logsOf(we).includes('heard echo/topic second'), 5000, 'the witness');
  // 'mine' went out before 'second': had the plain handler heard it, it would have logged by now
  assert.deepEqual(
    logsOf(s).filter((l) => l.endsWith('mine')),
    ['self heard mine'],
  );
  const c = await connect(h.url);
  await c.publishAsync('echo/topic', 'theirs', { qos: 1 });
  await waitFor(() => logsOf(s).filter((l) => l.endsWith('theirs')).length >= 2);
  assert.deepEqual(
    logsOf(s)
      .filter((l) => l.endsWith('theirs'))
      .sort(),
    ['plain heard theirs', 'self heard theirs'],
  );
  c.end();
});

test('a ping-pong loop between two scripts is cut at max_hops, with a log line naming scripts and topics', async () => {
  const ping = await load(
    `Mqtt.subscribe('loop/pong', (m) => Mqtt.publish('loop/ping', String(Number(m.payload) + 1)));`,
    'ping.js',
  );
  const pong = await load(
    `Mqtt.subscribe('loop/ping', (m) => Mqtt.publish('loop/pong', String(Number(m.payload) + 1)));`,
    'pong.js',
  );
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('loop/#');
  await c.publishAsync('loop/ping', '0', { qos: 1 });
  await waitFor(() => [...ping.logs, ...pong.logs].some((l) => /loop cut/.test(l.message)), 5000, 'the loop to be cut');
  await sleep(300);
  const count = got.messages.length;
  await sleep(300);
  assert.equal(got.messages.length, count, 'no more messages after the cut');
  assert.ok(count <= 8, `${count} messages went round`);
  const line = [...ping.logs, ...pong.logs].find((l) => /loop cut/.test(l.message))!.message;
  assert.match(
    line,
    /loop cut: not delivering loop\/(ping|pong) after 5 hops: (ping|pong)\.js published loop\/(ping|pong) -> /,
  );
  assert.match(line, /ping\.js published loop\/ping/);
  assert.match(line, /pong\.js published loop\/pong/);
  h.hub.scripts.unload('ping.js');
  h.hub.scripts.unload('pong.js');
  c.end();
});

test('a handler that throws is logged at its line; the script and others go on', async () => {
  const s = await load(
    `Mqtt.subscribe('bad/+', (m) => {\n  if (m.params[0] === 'x') null.boom;\n  console.log('fine ' + m.params[0]);\n});\n`,
  );
  const c = await connect(h.url);
  await c.publishAsync('bad/x', '1', { qos: 1 });
  await c.publishAsync('bad/y', '1', { qos: 1 });
  await waitFor(() => s.logs.length >= 2);
  assert.match(errorsOf(s)[0]!, /sub-\d+\.js:2:\d+: TypeError: cannot read property 'boom' of null/);
  assert.deepEqual(
    logsOf(s).filter((l) => l.startsWith('fine')),
    ['fine y'],
  );
  c.end();
});

test('a bad filter is a located error', async () => {
  const s = await load(`\nMqtt.subscribe('a/#/b', () => {});\n`);
  assert.match(
    errorsOf(s)[0]!,
    /sub-\d+\.js:2:\d+: RangeError: Mqtt\.subscribe: topic filter "a\/#\/b": # must be a whole level and the last one/,
  );
});

test("retained: 'ignore' leaves out the message the broker kept; the default takes it; a fresh one reaches both; a bad value is located", async () => {
  const c = await connect(h.url);
  await c.publishAsync('kept/one', 'from before', { qos: 1, retain: true });
  const ignoring = await load(
    "Mqtt.subscribe('kept/+', (m) => console.log('ignoring heard ' + m.topic + (m.retain ? ' (retained)' : '')), { retained: 'ignore' });",
  );
  const including = await load(
    "Mqtt.subscribe('kept/#', (m) => console.log('including heard ' + m.topic + (m.retain ? ' (retained)' : '')));",
  );
  await waitFor(() => logsOf(including).includes('including heard kept/one (retained)'), 5000, 'the retained one');
  await c.publishAsync('kept/two', 'fresh', { qos: 1 });
  await waitFor(() => logsOf(including).includes('including heard kept/two'), 5000, 'the fresh one');
  assert.deepEqual(logsOf(ignoring), ['ignoring heard kept/two']);
  const bad = await h.hub.scripts.load(
    '/scripts/bad-retained.js',
    {},
    "\nMqtt.subscribe('x/y', () => {}, { retained: 'skip' });",
  );
  await waitFor(() => errorsOf(bad).length > 0, 5000, 'the error');
  assert.match(
    errorsOf(bad)[0]!,
    /bad-retained\.js:2:\d+: TypeError: Mqtt\.subscribe: retained must be 'include' \(the default\) or 'ignore', got "skip"/,
  );
  await c.publishAsync('kept/one', '', { qos: 1, retain: true });
  c.end();
});
