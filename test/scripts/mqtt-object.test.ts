// The Mqtt object inside scripts, against the real embedded broker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, collect, waitFor, removeDir, type TestHub, type Received } from '../helpers.js';
import type { Script } from '../../src/scripts/engine.js';

let h: TestHub;
before(async () => {
  h = await startHub();
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

let n = 0;
async function runScript(source: string, ext = 'js', globals?: Record<string, unknown>): Promise<Script> {
  const s = await h.hub.scripts.load(`/scripts/test-${++n}.${ext}`, { globals }, source);
  await h.hub.scripts.whenIdle(s);
  return s;
}
const errorsOf = (s: Script) => s.logs.filter((l) => l.level === 'error').map((l) => l.message);
const logsOf = (s: Script) => s.logs.map((l) => l.message);

async function subscriber(filter: string) {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync(filter, { qos: 2 });
  return { c, got };
}

test('payloads: string as UTF-8, object/array/number/boolean as JSON, binary as exact bytes', async () => {
  const { c, got } = await subscriber('p/#');
  const s = await runScript(`
    Mqtt.publish('p/string', 'grüße');
    Mqtt.publish('p/object', { state: 'ON', brightness: 200 });
    Mqtt.publish('p/array', [1, 'two', null]);
    Mqtt.publish('p/number', 21.5);
    Mqtt.publish('p/boolean', false);
    Mqtt.publish('p/bytes', new Uint8Array([0, 1, 2, 253, 254, 255]));
    Mqtt.publish('p/buffer', new Uint8Array([9, 8, 7, 6]).buffer);
    Mqtt.publish('p/view', new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3));
    Mqtt.publish('p/null', null);
  `);
  assert.deepEqual(errorsOf(s), []);
  const msgs = await got.next(9);
  const by = (t: string) => msgs.find((m: Received) => m.topic === `p/${t}`)!.payload;
  assert.equal(by('string').toString('utf8'), 'grüße');
  assert.deepEqual(JSON.parse(by('object').toString()), { state: 'ON', brightness: 200 });
  assert.equal(by('array').toString(), '[1,"two",null]');
  assert.equal(by('number').toString(), '21.5');
  assert.equal(by('boolean').toString(), 'false');
  assert.deepEqual([...by('bytes')], [0, 1, 2, 253, 254, 255]);
  assert.deepEqual([...by('buffer')], [9, 8, 7, 6]);
  assert.deepEqual([...by('view')], [2, 3]);
  assert.equal(by('null').length, 0);
  c.end();
});

test('qos and retain arrive as given, positionally and as an options object', async () => {
  const { c, got } = await subscriber('o/#');
  await runScript(`
    Mqtt.publish('o/a', 'x', 2, false);
    Mqtt.publish('o/b', 'y', { qos: 1 });
    Mqtt.publish('o/c', 'z');
  `);
  const msgs = await got.next(3);
  assert.deepEqual(msgs.map((m) => [m.topic, m.qos]).sort(), [
    ['o/a', 2],
    ['o/b', 1],
    ['o/c', 0],
  ]);
  c.end();
});

test('publish with null and retain clears the retained message', async () => {
  await runScript(`Mqtt.publish('ret/x', 'kept', 1, true);`);
  const { c, got } = await subscriber('ret/x');
  await got.next(1);
  assert.equal(got.messages[0]!.retain, true);
  c.end();
  await runScript(`Mqtt.publish('ret/x', null, 1, true);`);
  const retained = h.hub.db.prepare("SELECT count(*) AS n FROM broker_retained WHERE topic = 'ret/x'").get() as {
    n: number;
  };
  assert.equal(retained.n, 0);
});

const invalid: [string, RegExp][] = [
  [
    `Mqtt.publish('a/b', 'x', 3, false)`,
    /RangeError: Mqtt\.publish: qos must be 0 .*, got number 3 \(the MQTT levels are 0, 1 and 2; there is no QoS 3\)/,
  ],
  [`Mqtt.publish('a/b', 'x', '1')`, /RangeError: Mqtt\.publish: qos must be .*got the string "1"/],
  [`Mqtt.publish('', 'x')`, /RangeError: Mqtt\.publish: topic must not be empty/],
  [`Mqtt.publish('a/+/b', 'x')`, /RangeError: Mqtt\.publish: topic "a\/\+\/b" must not contain the wildcards \+ or #/],
  [`Mqtt.publish('a/#', 'x')`, /RangeError: .*wildcards/],
  [`Mqtt.publish('a\\u0000b', 'x')`, /RangeError: Mqtt\.publish: topic must not contain the NUL character/],
  [`Mqtt.publish('$SYS/x', 'x')`, /RangeError: Mqtt\.publish: topic "\$SYS\/x" must not start with \$/],
  [`Mqtt.publish('a'.repeat(70000), 'x')`, /RangeError: Mqtt\.publish: topic must be at most 65535 bytes/],
  [`Mqtt.publish(42, 'x')`, /TypeError: Mqtt\.publish: topic must be a string, got number 42/],
  [
    `Mqtt.publish('a/b', 'x', 1, 'yes')`,
    /TypeError: Mqtt\.publish: retain must be true or false, got the string "yes"/,
  ],
  [`Mqtt.publish('a/b', () => 1)`, /TypeError: Mqtt\.publish: payload must be .*got function/],
];
for (const [call, expected] of invalid) {
  test(`invalid arguments throw synchronously, located: ${call.slice(0, 40)}`, async () => {
    const s = await runScript(
      `let caught;\ntry { ${call}; } catch (e) { caught = e; }\nif (caught) throw caught;\n${call};\n`,
    );
    const [err] = errorsOf(s);
    assert.match(err!, /test-\d+\.js:2:\d+: /, 'located at the line of the call');
    assert.match(err!, expected);
  });
}

test('the promise resolves after the broker acknowledged (QoS 1 and 2) and the script can await it', async () => {
  const s = await runScript(`
    (async () => {
      await Mqtt.publish('aw/1', 'one', 1);
      console.log('after puback');
      await Mqtt.publish('aw/2', 'two', { qos: 2 });
      console.log('after pubcomp');
    })();
  `);
  assert.deepEqual(logsOf(s), ['after puback', 'after pubcomp']);
});

test('a failed publish rejects with an MqttError that has a code; unhandled, it is logged with the line', async () => {
  const s = await h.hub.scripts.load(
    '/scripts/offline.js',
    {},
    `
    globalThis.later = () => {
      Mqtt.publish('x/y', 'z', 1).catch((e) => console.log('caught', e.name, e.code, e instanceof MqttError));
      Mqtt.publish('x/y', 'unhandled', 1);
    };
  `,
  );
  // take the broker connection away under the script
  await h.hub.bus.stop();
  try {
    const err = s.sandbox.run('later()', '/scripts/offline-call.js');
    assert.equal(err, undefined);
    await waitFor(() => s.logs.length >= 2, 5000, 'two log lines');
    assert.ok(logsOf(s).includes('caught MqttError NOT_CONNECTED true'), JSON.stringify(logsOf(s)));
    const unhandled = errorsOf(s).find((m) => m.includes('unhandled rejection'));
    assert.match(
      unhandled!,
      /\/scripts\/offline\.js:4:\d+: unhandled rejection of Mqtt\.publish: NOT_CONNECTED: not connected/,
    );
  } finally {
    await h.hub.bus.start();
  }
});

test('every publish is in the message trace with the script and line that made it', async () => {
  await runScript(`\n\nMqtt.publish('trace/me', 'hello', 1);\n`);
  const entry = h.hub.trace.recent(50).find((e) => e.topic === 'trace/me');
  assert.ok(entry);
  assert.match(entry.source!, /test-\d+\.js$/);
  assert.equal(entry.line, 3);
  assert.equal(entry.qos, 1);
  assert.equal(entry.result, 'ok');
  assert.equal(entry.size, 5);
  assert.ok(typeof entry.ackMs === 'number' && entry.ackMs >= 0);
});

test('TypeScript: runtime errors are reported at the .ts line and column', async () => {
  const s = await runScript(
    `interface Light { state: string }\nconst l: Light = { state: 'on' };\n\nconst missing: any = undefined;\nconsole.log(missing.deep.value);\n`,
    'ts',
  );
  assert.match(
    errorsOf(s)[0]!,
    /test-\d+\.ts:5:\d+: TypeError: cannot read property 'value' of undefined|test-\d+\.ts:5:\d+: TypeError/,
  );
  assert.match(errorsOf(s)[0]!, /> 5 \| console\.log\(missing\.deep\.value\);/);
});

test('CoffeeScript: runtime errors are reported at the .coffee line', async () => {
  const s = await runScript(`# comment\nx = 1\n\nthrow new Error("boom at four")\n`, 'coffee');
  assert.match(errorsOf(s)[0]!, /test-\d+\.coffee:4:\d+: Error: boom at four/);
});

test('timers and console work inside scripts; intervals can be cleared', async () => {
  const { c, got } = await subscriber('tm/#');
  const s = await runScript(`
    let ticks = 0;
    const id = setInterval(() => {
      ticks++;
      if (ticks === 3) { clearInterval(id); Mqtt.publish('tm/done', String(ticks)); }
    }, 5);
    setTimeout((a, b) => console.info('timeout', a + b), 1, 2, 3);
    const never = setTimeout(() => console.log('never'), 5);
    clearTimeout(never);
  `);
  await got.next(1);
  assert.equal(got.messages[0]!.payload.toString(), '3');
  assert.deepEqual(logsOf(s), ['timeout 5']);
  c.end();
});
