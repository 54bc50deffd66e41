// The seed page's examples (../shared/seed/mqtt-object.md), verbatim, are tests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, serve, tempDir, removeDir, connect, collect, portOf, type Served } from '../helpers.js';

const exec = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const SEED_JS = fixture('seed-example.js');
const SEED_COFFEE = fixture('seed-example.coffee');
const SEED_PAGE = fileURLToPath(new URL('../../../../shared/seed/mqtt-object.md', import.meta.url));

let s: Served;
let dir: string;
before(async () => {
  dir = tempDir();
  s = await serve(['--data', dir, '--mqtt-port', '0', '--http-port', '0']);
});
after(async () => {
  s.child.kill('SIGTERM');
  await s.exited;
  removeDir(dir);
});

test("the fixtures are the seed page's examples, verbatim", {
  skip: !existsSync(SEED_PAGE) && 'the seed page is not beside this checkout',
}, () => {
  const page = readFileSync(SEED_PAGE, 'utf8');
  const blocks = [...page.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2] }));
  assert.equal(readFileSync(SEED_JS, 'utf8'), blocks.find((b) => b.lang === 'javascript')!.code);
  assert.equal(readFileSync(SEED_COFFEE, 'utf8'), blocks.filter((b) => b.lang === 'coffeescript').at(-1)!.code);
});

test('JavaScript example: a mosquitto_sub started afterwards receives "on" on smart-home/living-room/light, retained, at QoS 1', async () => {
  const r = await runCli(['run', SEED_JS, '--broker', s.url]);
  assert.equal(r.code, 0, r.stderr);
  const { stdout } = await exec('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(portOf(s.url)),
    '-t',
    'smart-home/living-room/light',
    '-q',
    '1',
    '-C',
    '1',
    '-W',
    '10',
    '-F',
    '%t %p qos=%q retain=%r',
  ]);
  assert.equal(stdout.trim(), 'smart-home/living-room/light on qos=1 retain=1');
});

test('CoffeeScript example: check reports the missing paren at line 5 of the snippet', async () => {
  const r = await runCli(['check', SEED_COFFEE]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /seed-example\.coffee:5:\d+: SyntaxError: unmatched \).*a "\(" is missing/);
  assert.match(r.stderr, /> 5 \| Mqtt\.publish"zigbee2mqtt\/device\/set", payload, 0, false\)/);
});

test('CoffeeScript example: run reports the same located error and publishes nothing', async () => {
  const r = await runCli(['run', SEED_COFFEE, '--set', 'actionName=on', '--broker', s.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /seed-example\.coffee:5:\d+: SyntaxError: unmatched \)/);
});

test('CoffeeScript example with the paren fixed and actionName=on publishes {"state":"on"} to zigbee2mqtt/device/set at QoS 0, not retained', async () => {
  const fixed = path.join(dir, 'fixed.coffee');
  writeFileSync(fixed, readFileSync(SEED_COFFEE, 'utf8').replace('Mqtt.publish"', 'Mqtt.publish("'));
  const sub = await connect(s.url);
  const got = collect(sub);
  await sub.subscribeAsync('zigbee2mqtt/device/set', { qos: 2 });
  const r = await runCli(['run', fixed, '--set', 'actionName=on', '--broker', s.url]);
  assert.equal(r.code, 0, r.stderr);
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), '{"state":"on"}');
  assert.equal(m!.qos, 0);
  assert.equal(m!.retain, false);
  sub.end();
  const check = await runCli(['check', fixed]);
  assert.equal(check.code, 0, check.stderr);
});

test('the seed table\'s "qos 3" fails clearly at the line of the call', async () => {
  const f = path.join(dir, 'qos3.js');
  writeFileSync(f, "// the table says 1, 2, 3\nMqtt.publish('zigbee2mqtt/device/set', 'x', 3, false);\n");
  const r = await runCli(['run', f, '--broker', s.url]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /qos3\.js:2:\d+: RangeError: Mqtt\.publish: qos must be 0 \(at most once\), 1 \(at least once\) or 2 \(exactly once\), got number 3 \(the MQTT levels are 0, 1 and 2; there is no QoS 3\)/,
  );
});

test('a TypeScript script with a type error fails check at its line', async () => {
  const f = path.join(dir, 'typed.ts');
  writeFileSync(f, "const level: number = 1;\n\nMqtt.publish(1, 'x');\n");
  const r = await runCli(['check', f]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /typed\.ts:3:14: TypeError: Argument of type 'number' is not assignable to parameter of type 'string'/,
  );
  const ok = path.join(dir, 'ok.ts');
  writeFileSync(
    ok,
    "const q: 0 | 1 | 2 = 1;\nawait0();\nfunction await0(): void { Mqtt.publish('a/b', { on: true }, { qos: q, retain: false }); }\n",
  );
  const r2 = await runCli(['check', ok]);
  assert.equal(r2.code, 0, r2.stderr);
});

test('run --watch keeps a script with subscriptions alive until it unsubscribes, then exits 0', async () => {
  const f = path.join(dir, 'listen.js');
  writeFileSync(
    f,
    "const off = Mqtt.subscribe('run/ping', (m) => {\n  console.log('got ' + m.payload);\n  off();\n});\nconsole.log('listening');\n",
  );
  const done = runCli(['run', f, '--broker', s.url, '--watch']);
  const c = await connect(s.url);
  // publish until the script has subscribed and heard one
  let result: Awaited<typeof done> | undefined;
  void done.then((r) => {
    result = r;
  });
  for (let i = 0; i < 100 && !result; i++) {
    await c.publishAsync('run/ping', `p${i}`, { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
  }
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^listening\ngot p\d+\n$/);
  c.end();
});
