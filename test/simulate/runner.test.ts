// smart-home test: the runner tests itself on a corpus (e154-style entity scripts of
// test/fixtures/e154 with tests in JS, CoffeeScript and TypeScript from test/fixtures/simulate),
// a failing test whose output names the assertion and its line, and the simulated home's promise
// that nothing leaves it (no listener, no HTTP, notifications recorded, never sent).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { removeDir, runCli, startHub, tempDir, testConfig } from '../helpers.js';
import { SimulatedHome } from '../../src/simulate/home.js';
import { createLogger } from '../../src/log.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

/** A data dir with e154's entity scripts, their entities in smart-home.yaml, and the given tests. */
function dataDir(tests: string[], extra: Record<string, string> = {}, telegramUrl = 'http://127.0.0.1:9'): string {
  const dir = tempDir('sim-runner-');
  dirs.push(dir);
  const scripts = path.join(dir, 'scripts');
  mkdirSync(scripts);
  for (const f of ['js-let.js', 'mqtt-event.js', 'boiler.coffee', 'telegram-report.coffee'])
    copyFileSync(path.join(FIXTURES, 'e154', f), path.join(scripts, f));
  for (const t of tests) copyFileSync(path.join(FIXTURES, 'simulate', t), path.join(scripts, t));
  for (const [name, text] of Object.entries(extra)) writeFileSync(path.join(scripts, name), text);
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    stringify({
      entities: [
        { id: 'switch.js_let', script: 'js-let.js' },
        { id: 'sensor.kitchen_temp', script: 'mqtt-event.js', subscribe_topic: 'home/temp/+' },
        {
          id: 'sensor.boiler',
          script: 'boiler.coffee',
          states: [{ name: 'heating', description: 'Heating' }, { name: 'idle' }],
          attributes: { temperature: { type: 'float', value: 20 }, since: 'time', mode: 'string' },
          metrics: [{ name: 'water', items: [{ name: 'temperature' }, { name: 'pressure' }] }],
        },
        { id: 'sensor.miner', script: 'telegram-report.coffee' },
      ],
      notify: {
        targets: { clavicus: { type: 'telegram', token: '1:x', chat_id: 7, api_url: telegramUrl } },
        templates: { report: 'Miner: {{ params.temp }} °C, fan {{ params.fan }} rpm' },
      },
    }),
  );
  return dir;
}

const test_ = (dir: string, ...args: string[]) =>
  runCli(['test', '--data', dir, ...args], { cwd: dir, timeoutMs: 120_000 });

test('the corpus passes: e154 entity scripts tested in JS, CoffeeScript and TypeScript, one home per test', async () => {
  const dir = dataDir(['e154.test.js', 'boiler.test.coffee', 'miner.test.ts']);
  const r = await test_(dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const name of [
    'entityAction declared with let answers an action',
    'mqttEvent sets the state from a message on subscribe_topic',
    'each test starts in a home of its own',
    'HEAT sets the named state and the typed attribute',
    'a state the entity does not declare is refused, and the script says where',
    'CHECK reports the miner to telegram',
  ])
    assert.match(r.stdout, new RegExp(`✔ ${name.replace(/[()]/g, '\\$&')} \\(\\d+ms\\)`), r.stdout);
  assert.match(r.stdout, /^▶ scripts\/boiler\.test\.coffee$/m);
  assert.match(r.stdout, /ℹ tests 6\nℹ pass 6\nℹ fail 0\n/);
});

test('a failing test names the assertion, what was expected and received, and its line with the code', async () => {
  const dir = dataDir(['failing.test.js']);
  const r = await test_(dir, 'scripts/failing.test.js');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /✔ passes/);
  assert.match(r.stdout, /✖ the light was never asked for \(\d+ms\)/);
  assert.match(
    r.stdout,
    /scripts\/failing\.test\.js:8:63: AssertionError: expect\(received\)\.toEqual\(expected\)\n\s+expected: \[\{"state":"ON"\}\]\n\s+received: \[\]\n/,
  );
  assert.match(r.stdout, />\s+8 \|\s+expect\(home\.published\('zigbee2mqtt\/hall_light\/set'\)\)\.toEqual/);
  assert.match(r.stdout, /ℹ tests 2\nℹ pass 1\nℹ fail 1\n/);
});

test('a test file that does not compile fails at its line; one with no test says so; a file not a test is refused', async () => {
  const dir = dataDir([], { 'broken.test.js': "test('x', () => {\n  expect(1).toBe(1)\n" });
  const r = await test_(dir);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /✖ scripts\/broken\.test\.js[\s\S]*broken\.test\.js:3:\d+/);
  const empty = dataDir([], { 'empty.test.js': '// nothing yet\n' });
  const e = await test_(empty);
  assert.equal(e.code, 0, e.stdout + e.stderr);
  assert.match(e.stdout, /no test\(\) in scripts\/empty\.test\.js/);
  const notTest = await test_(empty, 'scripts/js-let.js');
  assert.equal(notTest.code, 1);
  assert.match(
    notTest.stderr,
    /js-let\.js is not a test file \(name it NAME\.test\.js, \.test\.ts or \.test\.coffee\)/,
  );
});

test('a TypeScript test is type-checked against the test API first', async () => {
  const dir = dataDir([], { 'typo.test.ts': "test('t', async () => {\n  await home.publsh('a/b', 'x');\n});\n" });
  const r = await test_(dir);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /typo\.test\.ts:2:14: .*Property 'publsh' does not exist/);
});

test('the virtual clock moves setInterval, Timer.in, schedules, intervals and the sun; Date follows it', async () => {
  const dir = dataDir(['clock.test.js'], {
    'ticker.js': "setInterval(() => Mqtt.publish('tick', new Date().toISOString()), 60_000);\n",
    'reminder.js':
      "Timer.on((t) => Mqtt.publish('timer/fired', t.data));\nMqtt.subscribe('timer/start', () => Timer.in('r', 3_600_000, 'reminder'));\n",
  });
  const yaml = path.join(dir, 'smart-home.yaml');
  writeFileSync(
    yaml,
    `${readFileSync(yaml, 'utf8')}home: { latitude: 52.52, longitude: 13.405, timezone: Europe/Berlin }\n`,
  );
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    stringify([
      {
        id: 'morning',
        triggers: [{ type: 'time', cron: '0 7 * * *', timezone: 'UTC' }],
        actions: [{ type: 'publish', topic: 'house/morning', payload: 'x' }],
      },
      {
        id: 'every6h',
        triggers: [{ type: 'interval', every: '6h' }],
        actions: [{ type: 'publish', topic: 'house/every6h', payload: 'x' }],
      },
      {
        id: 'sunset',
        triggers: [{ type: 'sun', event: 'sunset' }],
        actions: [{ type: 'publish', topic: 'house/sunset', payload: '{{ trigger.time }}' }],
      },
    ]),
  );
  const r = await test_(dir, '--at', '2026-06-21T00:00:00Z');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ℹ tests 3\nℹ pass 3\n/);
});

test('the hub never starts a test file as a script', async () => {
  const dir = dataDir(['e154.test.js']);
  const h = await startHub(testConfig(dir));
  try {
    assert.deepEqual(
      h.hub.scripts.list().filter((s) => s.name.includes('test')),
      [],
    );
  } finally {
    await h.hub.stop();
  }
});

test('nothing leaves the simulated home: no listener, no HTTP API, a notification recorded and not sent', async () => {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const dir = dataDir([], {}, `http://127.0.0.1:${port}/telegram`);
  const config = testConfig(dir, {
    http: { enabled: true, port: 0 },
    entities: [{ id: 'sensor.miner', script: 'telegram-report.coffee' }],
    notify: {
      targets: { clavicus: { type: 'telegram', token: '1:x', chat_id: 7, api_url: `http://127.0.0.1:${port}/t` } },
      templates: { report: 'Miner: {{ params.temp }} °C, fan {{ params.fan }} rpm' },
    },
  });
  const home = await SimulatedHome.start({
    config,
    scriptsDir: path.join(dir, 'scripts'),
    log: createLogger('silent'),
  });
  try {
    assert.deepEqual(home.hub.listeners, []);
    assert.equal(home.hub.api, undefined);
    await home.call('sensor.miner', 'CHECK');
    assert.deepEqual(
      home.notifications.map((n) => [n.target, n.message]),
      [['clavicus', 'Miner: 41 °C, fan 5400 rpm']],
    );
    assert.equal(requests, 0);
  } finally {
    await home.stop();
    server.close();
  }
});
