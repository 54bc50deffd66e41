// Hostile scripts: escape and denial attempts. Each one is contained (the hub process is
// untouched), reported (an error in the script's log naming the limit it hit), and afterwards a
// bystander script that was loaded before still answers. test/scripts/sandbox.test.ts has the
// first cases (endless loops, memory bombs, recursion, timer and publish floods); these add the rest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub,
  connect,
  collect,
  removeDir,
  waitFor,
  sleep,
  type TestHub,
  BYSTANDER,
  bystanderAnswers as bystanderAnswersAt,
} from '../helpers.js';
import type { Script } from '../../src/scripts/engine.js';

let h: TestHub;
before(async () => {
  h = await startHub({
    scripts: {
      cpu_limit_ms: 200,
      memory_limit_mb: 16,
      max_timers: 50,
      max_pending_publishes: 1000,
      max_payload_kb: 256,
      max_pending_mb: 1,
      storage_quota_mb: 0.05,
      log_lines: 50,
      max_subscriptions: 20,
      max_filter_bytes: 1024,
    },
  });
  // the bystander: loaded first, answers every ping until the end
  await h.hub.scripts.load('/scripts/bystander.js', {}, BYSTANDER);
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

let n = 0;
async function runScript(source: string, name = `hostile-${++n}.js`): Promise<Script> {
  const s = await h.hub.scripts.load(`/scripts/${name}`, {}, source);
  await h.hub.scripts.whenIdle(s);
  return s;
}
const errorsOf = (s: Script) => s.logs.filter((l) => l.level === 'error').map((l) => l.message);
const logsOf = (s: Script) => s.logs.map((l) => l.message);

let pings = 0;
const bystanderAnswers = () => {
  pings++;
  return bystanderAnswersAt(h.url);
};

test('tampering with its own built-ins (JSON, Promise, Object.prototype) breaks nothing outside the script', async () => {
  const watcher = await connect(h.url);
  const published = collect(watcher);
  await watcher.subscribeAsync('hostile/tamper', { qos: 1 });
  const s = await runScript(`
    JSON.stringify = () => '"evil"';
    Object.defineProperty(Object.prototype, 'then', { get() { throw new Error('trap'); }, configurable: true });
    Promise.prototype.then = function () { throw new Error('hijacked then'); };
    Array.prototype[Symbol.iterator] = function* () { yield 'evil'; };
    try { Mqtt.publish('hostile/tamper', { a: 1 }, 1); } catch (e) { console.log('publish threw ' + e.message); }
  `);
  // its own publish goes out as its own (tampered) JSON.stringify made it, or fails with a clear error
  if (logsOf(s).length === 0) assert.equal((await published.next(1))[0]!.topic, 'hostile/tamper');
  else
    assert.deepEqual(
      logsOf(s).filter((l) => !/^publish threw \S/.test(l)),
      [],
      logsOf(s).join('\n'),
    );
  watcher.end();
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('clean/json', { qos: 1 });
  await runScript(`Mqtt.publish('clean/json', { a: [1, 2] }, 1);`);
  assert.equal((await got.next(1))[0]!.payload.toString(), '{"a":[1,2]}', "another script's JSON is untouched");
  assert.equal(typeof (Object.prototype as Record<string, unknown>).then, 'undefined', 'the host is untouched');
  c.end();
  await bystanderAnswers();
});

test('constructor chains, host handles and stack tricks reach only the sandbox', async () => {
  const s = await runScript(`
    const tries = {
      fnCtor: () => Mqtt.publish.constructor('return typeof process')(),
      asyncCtor: () => (async () => {}).constructor('return 1').toString(),
      protoChain: () => typeof Mqtt.__proto__.constructor.constructor('return this')().process,
      prepare: () => { Error.prepareStackTrace = (e, frames) => frames; return typeof new Error().stack; },
      hostGlobal: () => typeof __host,
      require: () => typeof require,
      importMeta: () => typeof globalThis.process,
    };
    for (const [k, f] of Object.entries(tries)) { try { console.log(k + ' ' + f()); } catch (e) { console.log(k + ' threw ' + e.name); } }
  `);
  const out = logsOf(s).join('\n');
  assert.match(out, /fnCtor undefined/);
  assert.match(out, /protoChain undefined/);
  assert.match(out, /prepare string/, 'stack stays a string (no host frames)');
  assert.match(out, /hostGlobal undefined/, 'the captured host object is gone from the global scope');
  assert.match(out, /require undefined/);
  assert.match(out, /importMeta undefined/);
  await bystanderAnswers();
});

test("huge strings, arrays and buffers end inside the script's own memory cap", async () => {
  const rssBefore = process.memoryUsage().rss;
  for (const bomb of [
    `'x'.repeat(2 ** 29)`,
    `new Array(2 ** 30).fill(1)`,
    `new ArrayBuffer(2 ** 30)`,
    `new Uint8Array(2 ** 28)`,
    `Array.from({ length: 1e8 }, (_, i) => i)`,
  ]) {
    const s = await runScript(`const big = ${bomb};\nconsole.log(big.length);\n`);
    assert.ok(
      errorsOf(s).some((e) => /out of memory|RangeError|InternalError/.test(e)),
      `${bomb}: ${errorsOf(s).join(' | ') || logsOf(s).join(' | ')}`,
    );
  }
  assert.ok(process.memoryUsage().rss - rssBefore < 300 * 1024 * 1024, "the hub grew by less than the scripts' caps");
  await bystanderAnswers();
});

test('an endless loop in a subscribe handler is interrupted each time; the script keeps handling later messages', async () => {
  const s = await runScript(`
    Mqtt.subscribe('hostile/loop', (m) => {
      if (m.payload === 'spin') for (;;) {}
      Mqtt.publish('hostile/loop/out', 'handled ' + m.payload, 1);
    });
  `);
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('hostile/loop/out', { qos: 1 });
  await c.publishAsync('hostile/loop', 'spin', { qos: 1 });
  await c.publishAsync('hostile/loop', 'spin', { qos: 1 });
  await c.publishAsync('hostile/loop', 'after', { qos: 1 });
  assert.equal((await got.next(1))[0]!.payload.toString(), 'handled after');
  assert.equal(errorsOf(s).filter((e) => /interrupted/.test(e)).length, 2, errorsOf(s).join('\n'));
  c.end();
  await bystanderAnswers();
});

test('a promise-job flood (each job queues the next) is interrupted by the CPU limit', async () => {
  // (spin does not return the promise: no chain of nested promises, so memory stays flat and only
  // the CPU deadline can stop it)
  const s = await runScript(
    `let n = 0;\nconst spin = () => { n++; Promise.resolve().then(spin); };\nspin();\nglobalThis.count = () => console.log('n ' + n);\n`,
  );
  await waitFor(
    () => errorsOf(s).some((e) => /interrupted: promise callbacks ran longer than cpu_limit_ms \(200 ms\)/.test(e)),
    5000,
    'the flood to be stopped and reported',
  );
  assert.equal(errorsOf(s).length, 1, 'reported once');
  s.sandbox.run('count()', 'x.js');
  await sleep(100);
  s.sandbox.run('count()', 'x.js');
  const counts = logsOf(s).filter((l) => l.startsWith('n '));
  assert.equal(counts[0], counts[1], 'the flood is over: nothing ran in between');
  await bystanderAnswers();
});

test('a zero-delay setInterval cannot starve the hub: it runs, and the bystander still answers', async () => {
  // loaded without waiting for idle: an interval never is
  const s = await h.hub.scripts.load(
    '/scripts/busy-interval.js',
    {},
    `let ticks = 0;\nsetInterval(() => { ticks++; for (let i = 0; i < 1e4; i++); }, 0);\nglobalThis.count = () => console.log('ticks ' + ticks);\n`,
  );
  // it is running: its counter moves
  await waitFor(
    () => {
      s.sandbox.run('count()', 'x.js');
      return logsOf(s).some((l) => /^ticks [1-9]/.test(l));
    },
    5000,
    'the interval to tick',
  );
  await bystanderAnswers();
  s.sandbox.run('count()', 'x.js');
  assert.match(logsOf(s).at(-1)!, /^ticks [1-9]\d*$/, 'the interval did run');
  h.hub.scripts.unload(s.name);
});

test('a giant payload is refused at the call with max_payload_kb; nothing reaches the broker', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('hostile/giant', { qos: 0 });
  const s = await runScript(`const big = 'x'.repeat(300 * 1024);\nMqtt.publish('hostile/giant', big);\n`);
  assert.match(
    errorsOf(s)[0]!,
    /hostile-\d+\.js:2:\d+: RangeError: Mqtt\.publish: payload of \d+ bytes is larger than max_payload_kb \(256 KiB\)/,
  );
  const bin = await runScript(`Mqtt.publish('hostile/giant', new Uint8Array(257 * 1024));\n`);
  assert.match(errorsOf(bin)[0]!, /payload of 263168 bytes is larger than max_payload_kb/);
  const ok = await runScript(`Mqtt.publish('hostile/giant', 'é'.repeat(100 * 1024), 0);\n`);
  assert.deepEqual(errorsOf(ok), [], 'multi-byte text under the limit passes (200 KiB of UTF-8)');
  await got.next(1);
  assert.equal(got.messages.length, 1);
  c.end();
  await bystanderAnswers();
});

test('publish limits hold on the host: a script that rewrites what the prelude sends cannot pass max_payload_kb', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('hostile/bypass', { qos: 0 });
  // the prelude's own JSON.stringify is the script's: it swaps the checked payload for 2 MiB
  const s = await runScript(`
    const real = JSON.stringify;
    // the wire's publish batch is [stacks, items]; each item's payload is its third field
    JSON.stringify = (v) => Array.isArray(v) && Array.isArray(v[1]) && Array.isArray(v[1][0]) ? real([v[0], v[1].map((it) => { it[2] = 'x'.repeat(2 * 1024 * 1024); return it; })]) : real(v);
    Mqtt.publish('hostile/bypass', 'small', 0).catch((e) => console.log('refused: ' + e.message));
  `);
  await waitFor(() => logsOf(s).some((l) => l.startsWith('refused: ')), 5000, 'the refusal');
  assert.match(
    logsOf(s).find((l) => l.startsWith('refused: '))!,
    /payload of 2097152 bytes is larger than max_payload_kb \(256 KiB\)/,
  );
  await runScript(`Mqtt.publish('hostile/bypass', 'after', 0);`);
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), 'after', 'the 2 MiB message never reached the broker');
  c.end();
  await bystanderAnswers();
});

test('subscriptions per script and filter length are bounded (host memory)', async () => {
  const s = await runScript(`
    try { Mqtt.subscribe('a/' + 'x'.repeat(2000), () => {}); } catch (e) { console.log('long: ' + e.message); }
    let n = 0;
    try { for (;;) { Mqtt.subscribe('many/' + n, () => {}); n++; } } catch (e) { console.log('after ' + n + ': ' + e.message); }
  `);
  assert.match(
    logsOf(s)[0]!,
    /^long: Mqtt\.subscribe: the topic filter is longer than scripts\.max_filter_bytes \(1024 bytes\)/,
  );
  assert.match(logsOf(s)[1]!, /^after 20: Mqtt\.subscribe: more than scripts\.max_subscriptions \(20\)/);
  h.hub.scripts.unload(s.name);
  await bystanderAnswers();
});

test('payload bytes waiting for the broker are capped per script (max_pending_mb), so host memory stays bounded', async () => {
  const s = await runScript(
    `const chunk = 'y'.repeat(200 * 1024);\nfor (let i = 0; i < 20; i++) Mqtt.publish('hostile/pending', chunk, 1);\n`,
  );
  assert.match(
    errorsOf(s)[0]!,
    /hostile-\d+\.js:2:\d+: RangeError: Mqtt\.publish: more than max_pending_mb \(1 MB\) of payloads are waiting/,
  );
  // once they are acknowledged, the budget is free again
  const again = await runScript(
    `const chunk = 'y'.repeat(200 * 1024);\n(async () => { for (let i = 0; i < 20; i++) await Mqtt.publish('hostile/pending', chunk, 1); console.log('20 sent'); })();\n`,
  );
  await waitFor(() => logsOf(again).includes('20 sent'), 5000, '20 awaited publishes');
  assert.deepEqual(errorsOf(again), []);
  await bystanderAnswers();
});

test("a script cannot read or overwrite another script's Storage, and its own is capped by a quota", async () => {
  await runScript(`Storage.set('secret', 'owner-only');`, 'owner.js');
  const thief = await runScript(
    `
    for (const k of ['secret', '../owner.js/secret', 'owner.js:secret', 'owner.js/secret', '%', '*']) console.log(k + '=' + JSON.stringify(Storage.get(k)));
    console.log('keys=' + JSON.stringify(Storage.keys()));
    Storage.set('secret', 'stolen');
  `,
    'thief.js',
  );
  assert.equal(logsOf(thief).length, 7, logsOf(thief).join('\n'));
  assert.ok(
    logsOf(thief)
      .slice(0, 6)
      .every((l) => l.endsWith('=null')),
    logsOf(thief).join('\n'),
  );
  assert.equal(logsOf(thief)[6], 'keys=[]');
  const owner = await runScript(`console.log(Storage.get('secret'));`, 'owner.js');
  assert.equal(logsOf(owner).at(-1), 'owner-only');
  const hoarder = await runScript(`for (let i = 0; ; i++) Storage.set('k' + i, 'z'.repeat(1000));`);
  assert.match(
    errorsOf(hoarder)[0]!,
    /RangeError: Storage\.set: this script's storage would hold \d+ bytes, over its quota of 52428/,
  );
  const stored = h.hub.db.prepare('SELECT count(*) AS n FROM script_storage WHERE script = ?').get(hoarder.name) as {
    n: number;
  };
  assert.ok(stored.n > 10 && stored.n < 60, `${stored.n} values stored before the quota`);
  await bystanderAnswers();
});

test('a log flood keeps only log_lines lines and is cut by the CPU limit', async () => {
  const s = await runScript(`for (let i = 0; ; i++) console.log('line ' + i);`);
  assert.ok(s.logs.length <= 50, `${s.logs.length} lines kept`);
  assert.ok(errorsOf(s).some((e) => /interrupted/.test(e)));
  await bystanderAnswers();
});

test('after all of it the bystander never restarted and handled every ping', async () => {
  const by = h.hub.scripts.list().find((s) => s.name === 'bystander.js')!;
  assert.ok(by.delivered >= pings, `${by.delivered} deliveries for ${pings} pings`);
  assert.equal(by.errors, 0);
});
