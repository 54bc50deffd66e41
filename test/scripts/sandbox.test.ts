// The sandbox: a script can burn its own budget, never the hub's, and cannot reach the host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, collect, removeDir, waitFor, type TestHub } from '../helpers.js';
import type { Script } from '../../src/scripts/engine.js';

let h: TestHub;
before(async () => {
  h = await startHub({
    scripts: { cpu_limit_ms: 200, memory_limit_mb: 16, max_timers: 50, max_pending_publishes: 100 },
  });
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

let n = 0;
async function runScript(source: string): Promise<Script> {
  const s = await h.hub.scripts.load(`/scripts/sb-${++n}.js`, {}, source);
  await h.hub.scripts.whenIdle(s);
  return s;
}
const errorsOf = (s: Script) => s.logs.filter((l) => l.level === 'error').map((l) => l.message);
const logsOf = (s: Script) => s.logs.map((l) => l.message);

/** A second script can still publish and be received: the hub and other scripts go on. */
async function othersStillWork(): Promise<void> {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('alive/#', { qos: 1 });
  const s = await runScript(`Mqtt.publish('alive/ok', 'yes', 1);`);
  assert.deepEqual(errorsOf(s), []);
  assert.equal((await got.next(1))[0]!.payload.toString(), 'yes');
  c.end();
}

test('an infinite loop is interrupted after cpu_limit_ms with a clear error', async () => {
  const s = await runScript(`function spin() {\n  while (true) {}\n}\nspin();\n`);
  assert.match(
    errorsOf(s)[0]!,
    /sb-\d+\.js:1:\d+: InternalError: interrupted: the script ran longer than cpu_limit_ms \(200 ms\) without returning \(an endless loop\?\) \(in function spin, declared at line 1\)/,
  );
  await othersStillWork();
});

test('an infinite loop in a timer callback is interrupted too, and the script can run again', async () => {
  const s = await runScript(`setTimeout(() => { for (;;) {} }, 1);\nglobalThis.ping = () => console.log('pong');\n`);
  assert.match(errorsOf(s)[0]!, /interrupted/);
  assert.equal(s.sandbox.run('ping()', 'x.js'), undefined);
  assert.deepEqual(logsOf(s).slice(-1), ['pong']);
  await othersStillWork();
});

test('a memory bomb ends with an out-of-memory error inside its own limit', async () => {
  const rssBefore = process.memoryUsage().rss;
  const s = await runScript(`const keep = [];\nwhile (true) keep.push('x'.repeat(1 << 20) + keep.length);\n`);
  assert.match(errorsOf(s)[0]!, /out of memory/);
  assert.ok(
    process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024,
    'the hub did not grow by more than the script could',
  );
  await othersStillWork();
});

test('running out of memory inside a promise callback is reported, not silent', async () => {
  // the rejection of this callback's promise is never handled: only the memory check tells
  const s = await runScript(
    `Promise.resolve().then(() => { const keep = []; for (;;) keep.push('y'.repeat(1 << 16) + keep.length); });\n`,
  );
  await waitFor(
    () => errorsOf(s).some((e) => /reached memory_limit_mb \(16 MB\)/.test(e)),
    5000,
    'the out-of-memory report',
  );
  assert.equal(errorsOf(s).filter((e) => /reached memory_limit_mb/.test(e)).length, 1, 'said once');
  await othersStillWork();
});

test('runaway recursion ends with a stack overflow error', async () => {
  const s = await runScript(`function down(n) { return down(n + 1) + 1; }\ndown(0);\n`);
  assert.match(errorsOf(s)[0]!, /RangeError|InternalError/);
  assert.match(errorsOf(s)[0]!, /stack overflow|call stack/i);
  await othersStillWork();
});

test("no access to Node: process, require, Node's module, fetch, and constructor chains reach only the sandbox", async () => {
  const s = await runScript(`
    console.log(typeof process, typeof require, typeof fetch, typeof Buffer, typeof __host);
    // module is the sandbox's own plain object (for e154's module.exports), not Node's
    console.log(JSON.stringify(module), typeof module.require, typeof module.constructor._load);
    console.log((function () {}).constructor('return typeof process')());
    console.log(Mqtt.publish.constructor('return typeof globalThis.process')());
    try { Mqtt.constructor.constructor('return process')(); } catch (e) { console.log(e.name); }
  `);
  assert.deepEqual(logsOf(s), [
    'undefined undefined undefined undefined undefined',
    '{"exports":{}} undefined undefined',
    'undefined',
    'undefined',
    'ReferenceError',
  ]);
});

test('prototype pollution stays inside the script that did it', async () => {
  const a = await runScript(
    `Object.prototype.polluted = 'yes'; Array.prototype.push = null; console.log(({}).polluted);`,
  );
  assert.deepEqual(logsOf(a), ['yes']);
  const b = await runScript(`console.log(String(({}).polluted), typeof [].push);`);
  assert.deepEqual(logsOf(b), ['undefined function']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'the host is untouched');
  await othersStillWork();
});

test('the Mqtt binding cannot be replaced or bypassed', async () => {
  const s = await runScript(`
    try { Mqtt.publish = () => 'hijacked'; } catch (e) { console.log(e.name); }
    try { globalThis.Mqtt = {}; } catch (e) { console.log(e.name); }
    console.log(typeof Mqtt.publish('alive/x', 'still real').then);
  `);
  assert.deepEqual(errorsOf(s), []);
  assert.equal(logsOf(s).at(-1), 'function');
});

test('a timer flood is cut at max_timers with a clear error', async () => {
  // loaded without waiting for idle: the 50 timers it did get are a minute long
  const s = await h.hub.scripts.load(
    '/scripts/timer-flood.js',
    {},
    `for (let i = 0; i < 100; i++) setTimeout(() => {}, 60000);`,
  );
  assert.match(errorsOf(s)[0]!, /RangeError: too many timers: at most max_timers \(50\)/);
  h.hub.scripts.unload(s.name);
  await othersStillWork();
});

test('a publish flood beyond max_pending_publishes is refused with a clear error', async () => {
  const s = await runScript(`for (let i = 0; i < 500; i++) Mqtt.publish('flood/x', String(i), 1);`);
  assert.match(errorsOf(s)[0]!, /RangeError: Mqtt\.publish: more than max_pending_publishes \(100\)/);
  await othersStillWork();
});

test('a script throwing at the top level is logged with its line; the hub goes on', async () => {
  const s = await runScript(`const a = 1;\nnull.x;\n`);
  assert.match(errorsOf(s)[0]!, /sb-\d+\.js:2:\d+: TypeError: cannot read property 'x' of null/);
  assert.equal(s.errors, 1);
  await othersStillWork();
});
