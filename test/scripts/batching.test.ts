// Delivery in batches (issue 18): the messages queued for a script cross into its sandbox in one
// call. Ordering and one-at-a-time semantics stay: a handler that returns a promise holds the
// rest, a throwing handler does not drop the rest, a batch cut by the CPU deadline says which
// message it was on. Speed lives in the bench (`node dist/bench/run.js reaction`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, type Delivery, type GuestError } from '../../src/scripts/sandbox.js';
import { InputRouter, type InputTarget } from '../../src/scripts/inputs.js';
import { configSchema } from '../../src/config/schema.js';
import type { MqttBus } from '../../src/mqtt/bus.js';
import type { MqttMessageEvent } from '../../src/events.js';
import { startHub, connect, waitFor, removeDir, type TestHub } from '../helpers.js';

const LIMITS = configSchema.parse({}).scripts;

interface Probe {
  sandbox: Sandbox;
  logs: string[];
  published: string[];
  uncaught: GuestError[];
  handlerDone: number;
}

/** A sandbox for one test; batch_ms is long (no batch is cut by a slow moment of the machine) unless the test sets it. */
async function probe(code: string, limits: Partial<typeof LIMITS> = {}): Promise<Probe> {
  limits = { batch_ms: 1000, ...limits };
  const p = { logs: [], published: [], uncaught: [], handlerDone: 0 } as unknown as Probe;
  p.sandbox = await Sandbox.create(
    { ...LIMITS, ...limits },
    {
      publish: async (topic, payload) => {
        p.published.push(`${String(topic)} ${typeof payload === 'string' ? payload : Buffer.from(payload).toString()}`);
      },
      log: (_level, text) => p.logs.push(text),
      unhandled: (message) => p.logs.push(`unhandled ${message}`),
      uncaught: (err) => p.uncaught.push(err),
      fault: (reason) => p.logs.push(`fault ${reason}`),
      throttled: () => {},
      calls: {
        subscribe: () => undefined,
        unsubscribe: () => undefined,
        handlerDone: () => {
          p.handlerDone++;
        },
      },
      asyncCalls: {},
    },
  );
  const err = p.sandbox.run(code, 'batch.js');
  assert.equal(err, undefined, JSON.stringify(err));
  return p;
}

const msgs = (...payloads: string[]): Delivery[] =>
  payloads.map((payload) => ({
    subId: 1,
    topic: 'in/x',
    payload: Buffer.from(payload),
    qos: 0,
    retain: false,
    params: ['x'],
  }));

const settled = () => new Promise((r) => setImmediate(r));

test('a batch goes to the handlers in one call, in order, with every field of each message', async () => {
  const p = await probe(
    `Mqtt.subscribe('in/+', (m) => console.log(m.payload + ' ' + JSON.stringify(m.json) + ' ' + m.bytes.length + ' ' + m.params[0] + ' ' + m.retain));`,
  );
  const batch = msgs('{"n":1}', 'plain', 'ü€', '{"n":4}');
  batch[2]!.retain = true;
  const r = p.sandbox.deliver(batch);
  assert.deepEqual(r, { handled: 4, holding: false });
  assert.deepEqual(p.logs, [
    '{"n":1} {"n":1} 7 x false',
    'plain undefined 5 x false',
    'ü€ undefined 5 x true',
    '{"n":4} {"n":4} 7 x false',
  ]);
  p.sandbox.dispose();
});

test('a handler that returns a promise holds the rest of its batch; Mqtt.publish returned as is does not', async () => {
  const p = await probe(`
    Mqtt.subscribe('in/+', (m) => {
      console.log('start ' + m.payload);
      if (m.payload === 'wait') return new Promise((r) => setTimeout(r, 5)).then(() => console.log('end wait'));
      return Mqtt.publish('out/x', m.payload);
    });
  `);
  const r = p.sandbox.deliver(msgs('a', 'wait', 'c'));
  assert.deepEqual(r, { handled: 2, holding: true }, 'a publish promise did not hold, the timer one did');
  assert.deepEqual(p.logs, ['start a', 'start wait']);
  await waitFor(() => p.handlerDone === 1, 2000, 'handlerDone after the held handler settled');
  assert.deepEqual(p.logs, ['start a', 'start wait', 'end wait']);
  assert.deepEqual(p.sandbox.deliver(msgs('c')), { handled: 1, holding: false });
  await settled();
  assert.deepEqual(p.published, ['out/x a', 'out/x c'], 'publishes in order');
  p.sandbox.dispose();
});

test('a throwing handler is reported and the rest of its batch still runs', async () => {
  const p = await probe(
    `Mqtt.subscribe('in/+', (m) => { if (m.payload === 'bad') null.boom; console.log('ok ' + m.payload); });`,
  );
  assert.deepEqual(p.sandbox.deliver(msgs('a', 'bad', 'c')), { handled: 3, holding: false });
  assert.deepEqual(p.logs, ['ok a', 'ok c']);
  assert.equal(p.uncaught.length, 1);
  assert.match(p.uncaught[0]!.message, /boom/);
  p.sandbox.dispose();
});

test('a batch cut by the CPU deadline says which message it was on; the ones after it are not taken', async () => {
  const p = await probe(
    `Mqtt.subscribe('in/+', (m) => { if (m.payload === 'spin') for (;;) {} console.log('ok ' + m.payload); });`,
    {
      cpu_limit_ms: 100,
    },
  );
  const r = p.sandbox.deliver(msgs('a', 'b', 'spin', 'd', 'e'));
  assert.equal(r.at, 2, 'on the third message');
  assert.equal(r.handled, 3, 'the spinning one counts as handled, d and e go back to the queue');
  assert.match(r.error!.message, /^interrupted: the script ran longer than cpu_limit_ms \(100 ms\)/);
  assert.deepEqual(p.logs, ['ok a', 'ok b']);
  assert.deepEqual(
    p.sandbox.deliver(msgs('d', 'e')),
    { handled: 2, holding: false },
    'the next call has its own deadline',
  );
  p.sandbox.dispose();
});

test('a batch starts no new message after its slice, so each message keeps its whole CPU deadline', async () => {
  // batch_ms 10 (the default); each handler busy-waits 4 ms of wall time
  const p = await probe(
    `Mqtt.subscribe('in/+', (m) => { const t = Date.now(); while (Date.now() - t < 4) {} console.log(m.payload); });`,
    { batch_ms: 10 },
  );
  const r = p.sandbox.deliver(msgs('1', '2', '3', '4', '5', '6', '7', '8', '9', '10'));
  assert.ok(r.handled >= 2 && r.handled < 10, `stopped after the slice: handled ${r.handled}`);
  assert.equal(r.holding, false);
  assert.equal(p.logs.length, r.handled);
  p.sandbox.dispose();
});

test('the guest cannot claim more than its batch: a script that tampers with the batch it is handed is not trusted', async () => {
  // the guest side parses the batch with the script's own JSON.parse: it adds 1000 messages
  const p = await probe(`
    const real = JSON.parse;
    JSON.parse = (t) => { const v = real(t); return Array.isArray(v) && Array.isArray(v[0]) && v[0].length === 9 ? v.concat(Array.from({ length: 1000 }, () => [99, 't', 0, 0, [], '', 0, 0, 0])) : v; };
    Mqtt.subscribe('in/+', () => {});
  `);
  assert.deepEqual(p.sandbox.deliver(msgs('a', 'b')), { handled: 2, holding: false });
  p.sandbox.dispose();
});

// --- the router: batches, re-queued rest, backpressure on publishes in flight -------------------

function fakeBus(): MqttBus {
  return { subscribe: async () => undefined, unsubscribe: async () => undefined } as unknown as MqttBus;
}
const event = (payload: string): MqttMessageEvent => ({
  topic: 'in/x',
  payload: Buffer.from(payload),
  qos: 0,
  retain: false,
});
const log = { warn() {}, info() {}, error() {}, debug() {} } as never;

test('the router hands a script its queue in batches, puts back what a holding handler left, and keeps the order', async () => {
  const router = new InputRouter(
    fakeBus(),
    { queue_size: 100, max_hops: 4, max_subscriptions: 10, max_filter_bytes: 1000 },
    log,
  );
  const seen: string[][] = [];
  const order: string[] = [];
  const target: InputTarget = {
    name: 's',
    log() {},
    deliver(batch) {
      seen.push(batch.map((b) => b.msg.payload.toString()));
      // hold at the second message of every batch
      const handled = Math.min(2, batch.length);
      for (const b of batch.slice(0, handled)) order.push(b.msg.payload.toString());
      if (handled === 2) setImmediate(() => router.handlerDone('s'));
      return { handled, holding: handled === 2 };
    },
  };
  router.attach(target);
  router.subscribe('s', 1, 'in/+', false);
  for (const p of ['1', '2', '3', '4', '5']) router.route(event(p));
  await waitFor(() => order.length === 5, 2000, 'all five delivered');
  assert.deepEqual(order, ['1', '2', '3', '4', '5']);
  assert.deepEqual(seen[0], ['1', '2', '3', '4', '5'], 'the messages of one turn went together');
  assert.deepEqual(seen[1], ['3', '4'], 'after a hold at 2 of 2 the next batch is no bigger than what was taken');
  assert.equal(router.stats('s')!.delivered, 5);
  router.stop();
});

test('with too many publishes in flight the router holds a script’s messages until they drain', async () => {
  const router = new InputRouter(
    fakeBus(),
    { queue_size: 100, max_hops: 4, max_subscriptions: 10, max_filter_bytes: 1000 },
    log,
  );
  let saturated = true;
  const got: string[] = [];
  router.attach({
    name: 's',
    log() {},
    saturated: () => saturated,
    deliver(batch) {
      for (const b of batch) got.push(b.msg.payload.toString());
      return { handled: batch.length, holding: false };
    },
  });
  router.subscribe('s', 1, 'in/+', false);
  router.route(event('a'));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [], 'held while saturated');
  assert.equal(router.stats('s')!.queued, 1);
  router.drained('s'); // still saturated: stays held
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, []);
  saturated = false;
  router.drained('s');
  await waitFor(() => got.length === 1, 2000, 'delivered once drained');
  router.stop();
});

// --- end to end: a flood through the broker, in order, nothing lost, and the deadline message --

let h: TestHub;
before(async () => {
  h = await startHub({ scripts: { cpu_limit_ms: 200 } });
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('a flood of messages reaches a script in order with none lost, and its publishes keep that order', async () => {
  const s = await h.hub.scripts.load(
    '/scripts/flood.js',
    {},
    `let last = -1; let wrong = 0;\nMqtt.subscribe('flood/in', (m) => { const n = m.json.n; if (n !== last + 1) wrong++; last = n; return Mqtt.publish('flood/out', { n, wrong }); });\n`,
  );
  await h.hub.scripts.inputs.subscribed(s.name);
  const c = await connect(h.url);
  const out: number[] = [];
  let wrong = 0;
  c.on('message', (_t, p) => {
    const m = JSON.parse(p.toString()) as { n: number; wrong: number };
    out.push(m.n);
    wrong = m.wrong;
  });
  await c.subscribeAsync('flood/out', { qos: 0 });
  for (let n = 0; n < 500; n++) c.publish('flood/in', JSON.stringify({ n }), { qos: 0 });
  await waitFor(() => out.length === 500, 20000, 'all 500 replies');
  assert.equal(wrong, 0, 'the script saw them in order');
  assert.deepEqual(
    out,
    Array.from({ length: 500 }, (_, i) => i),
  );
  assert.equal(h.hub.scripts.inputs.stats(s.name)!.overflows, 0);
  h.hub.scripts.unload(s.name);
  c.end();
});

test('a handler stopped by the CPU deadline is reported with the topic of the message it was on', async () => {
  const s = await h.hub.scripts.load(
    '/scripts/spin.js',
    {},
    `Mqtt.subscribe('spin/+', (m) => { if (m.params[0] === 'bad') for (;;) {} });\n`,
  );
  await h.hub.scripts.inputs.subscribed(s.name);
  const c = await connect(h.url);
  await c.publishAsync('spin/bad', 'x', { qos: 1 });
  await waitFor(() => s.logs.some((l) => l.level === 'error'), 5000, 'the error');
  assert.match(
    s.logs.find((l) => l.level === 'error')!.message,
    /interrupted: the script ran longer than cpu_limit_ms \(200 ms\).*\(handling a message on spin\/bad\)/,
  );
  h.hub.scripts.unload(s.name);
  c.end();
});

// --- automation runs of one step, batched like messages ----------------------------------------

test('calls of one step made in the same turn run in order; a call stopped by the deadline fails alone and the rest still run', async () => {
  const p = await probe(
    `globalThis.step = function (x) { if (x === 'spin') for (;;) {} globalThis.order = (globalThis.order || '') + x; return x + '!'; };`,
    { cpu_limit_ms: 100 },
  );
  const results = await Promise.all(['a', 'spin', 'c', 'd'].map((x) => p.sandbox.invokeBatched('step', [x])));
  assert.deepEqual(results[0], { value: 'a!' });
  assert.match(results[1]!.error!.message, /^interrupted: the script ran longer than cpu_limit_ms \(100 ms\)/);
  assert.deepEqual(results.slice(2), [{ value: 'c!' }, { value: 'd!' }], 'the calls after it ran in the next entry');
  assert.equal(p.sandbox.evaluate('globalThis.order', 'x.js').value, 'acd');
  // an async step: its outcome arrives when its promise settles; a throw is its own error
  p.sandbox.run(
    `globalThis.later = async function (x) { await new Promise((r) => setTimeout(r, 2)); if (x === 'bad') throw new RangeError('no ' + x); return x; };`,
    'y.js',
  );
  const late = await Promise.all(['x', 'bad', 'y'].map((x) => p.sandbox.invokeBatched('later', [x])));
  assert.deepEqual(late[0], { value: 'x' });
  assert.equal(late[1]!.error!.name, 'RangeError');
  assert.equal(late[1]!.error!.message, 'no bad');
  assert.deepEqual(late[2], { value: 'y' });
  p.sandbox.dispose();
});
