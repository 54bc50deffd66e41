// Every example in README.md, run as printed. Each fenced block is read from the README itself
// and claimed by the test that runs it; the last test fails when a block has no test, so a new
// example needs one. The only change made to a printed command: `-p PORT` after `-h 127.0.0.1`
// for mosquitto_sub/_pub (the hub under test listens on a free port, not 1883); the hub and the
// `./smart-home` commands share one environment (SMART_HOME_MQTT_PORT, SMART_HOME_HTTP_PORT), as
// a shell would.
// Zigbee2MQTT messages are in the shapes Zigbee2MQTT publishes: `bridge/devices` (retained, the
// device list with `definition.exposes`) and one JSON state object on `zigbee2mqtt/<friendly_name>`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import {
  CLI,
  cleanEnv,
  collect,
  connect,
  fakeClock,
  freePort,
  removeDir,
  serve,
  startHub,
  tempDir,
  waitFor,
  type Served,
} from './helpers.js';
import { configSchema } from '../src/config/schema.js';
import { VERSION } from '../src/version.js';
import { LIGHT_EXPOSE, INNR_PLUG, device as z2mDevice } from './fixtures/zigbee2mqtt.js';
import { FakeZigbee2Mqtt } from './fixtures/fake-zigbee2mqtt.js';
import { startFakeServices } from './fixtures/notify-servers.js';
import { loadConfig } from '../src/config/load.js';

const exec = promisify(execFile);
const ROOT = new URL('../../', import.meta.url);
const README = readFileSync(new URL('README.md', ROOT), 'utf8');
const blocks = [...README.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
const claimed = new Set<number>();

/** The README block that starts with `start` (exactly one must), marked as run by a test. */
function block(start: string): string {
  const found = blocks.flatMap((b, i) => (b.body.startsWith(start) ? [i] : []));
  assert.equal(found.length, 1, `exactly one README block starts with ${JSON.stringify(start)}`);
  claimed.add(found[0]!);
  return blocks[found[0]!]!.body;
}
/** The lines of a block without comment-only lines. */
const commands = (body: string) => body.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

let cwd: string;
let hub: Served;
let env: NodeJS.ProcessEnv;
let mqttPort: number;
let httpPort: number;
const withPort = (line: string) => line.replace(/-h 127\.0\.0\.1/g, `-h 127.0.0.1 -p ${mqttPort}`);
/** A printed shell line, run in the hub's directory with the hub's environment. */
const sh = (line: string, input?: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', ['-c', withPort(line)], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
const api = async (p: string) =>
  ((await (await fetch(`http://127.0.0.1:${httpPort}${p}`)).json()) as { data: unknown }).data;

/** Reads automations.yaml again (saving it reloads it too; test/automations covers the watcher). */
async function reload(): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/automations/reload`, { method: 'POST' });
  assert.equal(res.status, 200, await res.text());
}

// A fixed-offset zone where it is 22:xx now, so the example's "after dark" window holds.
const evening = (() => {
  const offset = ((22 - new Date().getUTCHours() + 36) % 24) - 12; // hours east of UTC, -12..11
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`; // (POSIX sign)
})();

const LIGHT = LIGHT_EXPOSE;
const DEVICES = JSON.stringify([
  { ieee_address: '0x00124b0000000000', type: 'Coordinator', friendly_name: 'Coordinator', definition: null },
  {
    ieee_address: '0x0017880104e45517',
    type: 'Router',
    friendly_name: 'hall_light',
    definition: { model: 'LED1545G12', vendor: 'IKEA', description: 'TRADFRI bulb', exposes: [LIGHT] },
  },
  {
    ieee_address: '0x00158d0002b3c4d5',
    type: 'EndDevice',
    friendly_name: 'hall_motion',
    definition: {
      model: 'RTCGQ11LM',
      vendor: 'Aqara',
      exposes: [
        { type: 'binary', name: 'occupancy', property: 'occupancy', access: 1, value_on: true, value_off: false },
        { type: 'numeric', name: 'illuminance', property: 'illuminance', access: 1, unit: 'lx' },
      ],
    },
  },
  {
    ieee_address: '0x00158d0003c4d5e6',
    type: 'EndDevice',
    friendly_name: 'hall_switch',
    definition: {
      model: 'WXKG11LM',
      vendor: 'Aqara',
      exposes: [{ type: 'enum', name: 'action', property: 'action', access: 1, values: ['single', 'double', 'hold'] }],
    },
  },
  z2mDevice('Kitchen Plug', INNR_PLUG, '0x000d6f000aaaaaaa'),
]);

before(async () => {
  cwd = tempDir('smart-home-readme-');
  [mqttPort, httpPort] = [await freePort(), await freePort()];
  env = { ...cleanEnv(), SMART_HOME_MQTT_PORT: String(mqttPort), SMART_HOME_HTTP_PORT: String(httpPort), TZ: evening };
  writeFileSync(path.join(cwd, 'smart-home'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(path.join(cwd, 'smart-home'), 0o755);
  // the hub's data dir with the README's own config blocks, as printed
  mkdirSync(path.join(cwd, 'data', 'scripts'), { recursive: true });
  writeFileSync(
    path.join(cwd, 'data', 'smart-home.yaml'),
    block('zigbee2mqtt:\n  enabled: true') +
      block('discovery:\n  enabled: true') +
      block('tasmota:\n  enabled: true') +
      block('entities:\n  - id: light.device'),
  );
  writeFileSync(path.join(cwd, 'data', 'automations.yaml'), block('- id: hall_motion'));
  writeFileSync(path.join(cwd, 'data', 'scripts', 'switch.js'), block("Mqtt.subscribe('zigbee2mqtt/+'"));
  writeFileSync(path.join(cwd, 'data', 'scripts', 'checker.ts'), block('// data/scripts/checker.ts'));
  const page = readFileSync(new URL('test/fixtures/seed-example.coffee', ROOT), 'utf8');
  writeFileSync(path.join(cwd, 'device.coffee'), page); // as on the page: a paren missing
  writeFileSync(path.join(cwd, 'data', 'scripts', 'device.coffee'), page.replace('Mqtt.publish"', 'Mqtt.publish("'));
  hub = await serve([], { cwd, env });
});
after(async () => {
  hub.child.kill('SIGTERM');
  await hub.exited;
  removeDir(cwd);
});

test('README: the ready lines are what serve prints', () => {
  const printed = block('smart-home 0.1.0 ready').trim().split('\n');
  const got = hub.stdout().trim().split('\n').slice(0, printed.length);
  assert.deepEqual(got, [
    printed[0]!.replace('0.1.0', VERSION),
    printed[1]!.replace('1883', String(mqttPort)),
    printed[2]!.replace('8080', String(httpPort)),
    printed[3]!.replace('/home/me/smart-home/data', path.join(cwd, 'data')),
  ]);
});

test('README: the first example (light.js) runs, and mosquitto_sub shows what the README says', async () => {
  writeFileSync(path.join(cwd, 'light.js'), block("const topic = 'smart-home/living-room/light';"));
  const [run, sub, expected] = block('./smart-home run light.js').split('\n');
  const ran = await sh(run!);
  assert.equal(ran.code, 0, ran.stderr);
  const got = await sh(sub!);
  assert.equal(`# ${got.stdout.trim()}`, expected);
});

test('README: the opening line publishes to the hall light', async () => {
  writeFileSync(path.join(cwd, 'opening.js'), block("Mqtt.publish('zigbee2mqtt/hall_light/set'"));
  const watcher = await connect(`mqtt://127.0.0.1:${mqttPort}`);
  const got = collect(watcher);
  await watcher.subscribeAsync('zigbee2mqtt/hall_light/set', { qos: 1 });
  const ran = await sh('./smart-home run opening.js');
  assert.equal(ran.code, 0, ran.stderr);
  const [m] = await got.next(1);
  assert.deepEqual([JSON.parse(m!.payload.toString()), m!.qos], [{ state: 'ON' }, 1]);
  watcher.end();
});

test('README: plain MQTT with mosquitto_sub and mosquitto_pub', async () => {
  const [subLine, pubLine] = commands(block("mosquitto_sub -h 127.0.0.1 -t 'zigbee2mqtt/#' -v &"));
  const child = spawn('bash', ['-c', withPort(subLine!.replace(/ &$/, ''))], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    // the subscription is in place once the broker lists it
    await (async () => {
      const deadline = Date.now() + 10000;
      for (;;) {
        const clients = (await api('/api/mqtt/clients')) as { subscriptions: { topic: string }[] }[];
        if (clients.some((c) => c.subscriptions.some((s) => s.topic === 'zigbee2mqtt/#'))) return;
        if (Date.now() > deadline) throw new Error('mosquitto_sub never subscribed');
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const pub = await sh(pubLine!);
    assert.equal(pub.code, 0, pub.stderr);
    await waitFor(
      () => out.includes('zigbee2mqtt/device/set {"state":"ON"}'),
      5000,
      'mosquitto_sub printing the message',
    );
  } finally {
    child.kill();
  }
});

test("README: check points at the missing paren of the page's CoffeeScript example, exactly as printed", async () => {
  const printed = block('$ ./smart-home check device.coffee').split('\n');
  const got = await sh(printed[0]!.slice(2));
  assert.equal(got.code, 1);
  assert.equal(
    got.stderr
      .split('\n')
      .slice(0, printed.length - 2)
      .join('\n'),
    printed.slice(1, -1).join('\n'),
  );
});

test('README: the fixed CoffeeScript example runs with --set actionName=on, and as the action body of light.device', async () => {
  assert.match(README, /`\.\/smart-home run device\.coffee --set actionName=on` publishes `\{"state":"on"\}`/);
  writeFileSync(path.join(cwd, 'device.coffee'), readFileSync(path.join(cwd, 'data', 'scripts', 'device.coffee')));
  const watcher = await connect(`mqtt://127.0.0.1:${mqttPort}`);
  const got = collect(watcher);
  await watcher.subscribeAsync('zigbee2mqtt/device/set');
  assert.equal((await sh('./smart-home run device.coffee --set actionName=on')).code, 0);
  assert.match(
    README,
    /`smart-home action light\.device on` publishes `\{"state":"on"\}` to `zigbee2mqtt\/device\/set`/,
  );
  const action = await sh('./smart-home action light.device on');
  assert.equal(action.code, 0, action.stderr);
  const messages = await got.next(2);
  assert.deepEqual(
    messages.map((m) => m.payload.toString()),
    ['{"state":"on"}', '{"state":"on"}'],
  );
  watcher.end();
});

test('README: the e154-style entity script: init() ran at start, CHECK publishes what the README says', async () => {
  const entity = async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/entities`);
    const list = ((await res.json()) as { data: { id: string; state: unknown }[] }).data;
    return list.find((e) => e.id === 'sensor.internet_checker');
  };
  assert.equal((await entity())?.state, 'unknown', 'init() set the state when the hub started');
  const said = /`\.\/smart-home action sensor\.internet_checker CHECK` publishes `([^`]+)`\s+to `checker\/state`/.exec(
    README,
  );
  assert.ok(said, 'the README says what CHECK publishes');
  const watcher = await connect(`mqtt://127.0.0.1:${mqttPort}`);
  const got = collect(watcher);
  await watcher.subscribeAsync('checker/state');
  const action = await sh('./smart-home action sensor.internet_checker CHECK');
  assert.equal(action.code, 0, action.stderr);
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), said[1]);
  assert.equal((await entity())?.state, 'connected');
  watcher.end();
});

test('README: Zigbee2MQTT devices, the Mqtt.subscribe example and the automation example, on real device messages', async () => {
  const device = await connect(`mqtt://127.0.0.1:${mqttPort}`);
  const got = collect(device);
  await device.subscribeAsync(['zigbee2mqtt/hall_light/set', 'log/hall'], { qos: 1 });
  // the light reports its state after each command, as Zigbee2MQTT does
  let light = { state: 'OFF', brightness: 120, linkquality: 90 };
  const report = (change: Record<string, unknown>) => {
    light = { ...light, ...change };
    return device.publishAsync('zigbee2mqtt/hall_light', JSON.stringify(light), { qos: 1 });
  };
  device.on('message', (topic, payload) => {
    if (topic !== 'zigbee2mqtt/hall_light/set') return;
    const set = JSON.parse(payload.toString()) as { state?: string };
    void report({ state: set.state === 'TOGGLE' ? (light.state === 'ON' ? 'OFF' : 'ON') : (set.state ?? light.state) });
  });
  await device.publishAsync('zigbee2mqtt/bridge/devices', DEVICES, { qos: 1, retain: true });
  await report({});
  const entities = async () => (await api('/api/entities')) as { id: string; state: unknown }[];
  const lightIs = async (state: string) => {
    for (
      const deadline = Date.now() + 10000;
      !(await entities()).some((e) => e.id === 'light.hall_light' && e.state === state);
    ) {
      if (Date.now() > deadline) throw new Error(`light.hall_light never appeared as ${state}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await lightIs('off');

  // the subscribe example: the switch's single press toggles the light
  await device.publishAsync('zigbee2mqtt/hall_switch', JSON.stringify({ action: 'single', linkquality: 70 }), {
    qos: 1,
  });
  await got.next(1);
  assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), { state: 'TOGGLE' });
  await lightIs('on');
  await report({ state: 'OFF' }); // switched off again at the wall
  await lightIs('off');

  // the automation: motion in the dark turns the light on, then waits in its 2 minute delay
  await device.publishAsync(
    'zigbee2mqtt/hall_motion',
    JSON.stringify({ occupancy: true, illuminance: 12, battery: 100 }),
    { qos: 1 },
  );
  await got.next(2);
  assert.deepEqual([JSON.parse(got.messages[1]!.payload.toString()), got.messages[1]!.qos], [{ state: 'ON' }, 1]);
  type RunView = {
    status: string;
    trigger: { type: string };
    steps: { kind: string; type: string; result: string; error?: string }[];
  };
  const runs = async () => (await api('/api/automations/hall_motion/runs')) as RunView[];
  // the system `started` trigger ran too, and no step of any run failed
  const all = await runs();
  assert.ok(
    all.some((r) => r.trigger.type === 'system'),
    JSON.stringify(all.map((r) => r.trigger.type)),
  );
  assert.ok(
    all.every((r) => r.steps.every((s) => s.result !== 'error')),
    JSON.stringify(all),
  );
  assert.ok(
    all.some((r) => r.trigger.type === 'mqtt' && r.status === 'running'),
    'the motion run waits in its delay',
  );

  // the rest of the run, with the delay shortened (the one change to the printed file)
  const printed = block('- id: hall_motion');
  assert.ok(printed.includes('      for: 2m\n'));
  writeFileSync(path.join(cwd, 'data', 'automations.yaml'), printed.replace('      for: 2m\n', '      for: 10ms\n'));
  await reload();
  await lightIs('on'); // the first run's turn_on, confirmed
  await report({ state: 'OFF' });
  await lightIs('off');
  await device.publishAsync(
    'zigbee2mqtt/hall_motion',
    JSON.stringify({ occupancy: true, illuminance: 12, battery: 100 }),
    { qos: 1 },
  );
  await got.next(5);
  const tail = got.messages.slice(2).map((m) => [m.topic, JSON.parse(m.payload.toString())]);
  assert.deepEqual(tail[0], ['zigbee2mqtt/hall_light/set', { state: 'ON' }]);
  assert.deepEqual(tail[1], ['zigbee2mqtt/hall_light/set', { state: 'OFF' }]);
  assert.equal(tail[2]![0], 'log/hall');
  assert.equal((tail[2]![1] as { by: string }).by, 'zigbee2mqtt/hall_motion');
  assert.equal(typeof (tail[2]![1] as { at: number }).at, 'number');
  device.end();
});

test('README: a dry run of switch.js with the hall switch message says what it would ask for', async () => {
  const [command, ...printed] = block('$ ./smart-home run data/scripts/switch.js --dry-run').trimEnd().split('\n');
  const r = await sh(command!.slice(2));
  assert.equal(r.code, 0, r.stderr);
  const at = (lines: string[]) => lines.map((l) => l.replace(/at \S+Z \(/, 'at TIME ('));
  assert.deepEqual(at(r.stdout.trimEnd().split('\n')), at(printed));
});

test('README: the Zigbee2MQTT commands, as printed, reach Zigbee2MQTT and report its answer', async () => {
  const z = await FakeZigbee2Mqtt.start(`mqtt://127.0.0.1:${mqttPort}`);
  try {
    const lines = commands(block('./smart-home integration zigbee2mqtt permit_join'));
    assert.equal(lines.length, 3);
    for (const line of lines) {
      const r = await sh(line);
      assert.equal(r.code, 0, `${line}: ${r.stderr}`);
    }
    assert.deepEqual(
      z.requests.map((r) => [r.path, r.payload.time ?? r.payload.from ?? r.payload.id, r.payload.to]),
      [
        ['permit_join', 120, undefined],
        ['device/rename', 'Kitchen Plug', 'Pantry Plug'],
        ['device/remove', 'Pantry Plug', undefined],
      ],
    );
  } finally {
    z.end();
  }
});

test('README: with discovery on, the hub announces itself to devices (homeassistant/status, retained)', async () => {
  const c = await connect(`mqtt://127.0.0.1:${mqttPort}`);
  const got = collect(c);
  await c.subscribeAsync('homeassistant/status', { qos: 1 });
  const [m] = await got.next(1);
  assert.deepEqual([m!.payload.toString(), m!.retain], ['online', true]);
  c.end();
});

test("README: an error in an automation script is located at its line and column in automations.yaml, with the file's lines", async () => {
  const file = path.join(cwd, 'data', 'automations.yaml');
  const text = block('- id: hall_motion').replace(
    "trigger.type !== 'mqtt' || trigger.json.illuminance < 30",
    'trigger.json.illuminance < 30',
  );
  writeFileSync(file, text);
  const device = await connect(`mqtt://127.0.0.1:${mqttPort}`);
  await reload();
  // a manual run has no json: the condition throws, and says where
  await fetch(`http://127.0.0.1:${httpPort}/api/automations/hall_motion/trigger`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  let error = '';
  for (const deadline = Date.now() + 10000; !error; ) {
    const runs = (await api('/api/automations/hall_motion/runs')) as { steps: { error?: string }[] }[];
    error = runs.flatMap((r) => r.steps).find((s) => s.error)?.error ?? '';
    if (Date.now() > deadline) throw new Error('no failed run');
    await new Promise((r) => setTimeout(r, 20));
  }
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('expression: trigger.json.illuminance')) + 1;
  const col = lines[line - 1]!.indexOf('.illuminance') + 1; // QuickJS points at the failing property access
  assert.match(error.split('\n')[0]!, new RegExp(`automations\\.yaml:${line}:${col}: TypeError`), error);
  assert.ok(error.includes(`> ${line} | ${lines[line - 1]}`), `the frame shows the YAML line itself:\n${error}`);
  assert.ok(error.includes(`  ${line - 1} | ${lines[line - 2]}`), `and the line before it:\n${error}`);
  device.end();
});

test('README: user add, then the hub asks for credentials', async () => {
  const [line] = commands(block('./smart-home user add admin --admin'));
  const added = await sh(line!.replace(/\s+#.*$/, ''), 'a-long-password-1\n');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /user "admin" added/);
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/scripts`);
  assert.equal(res.status, 401);
});

test("README: an entity's declared states, typed attributes and a metric, and a scene, load and act as printed", async () => {
  const dir = tempDir();
  try {
    writeFileSync(path.join(dir, 'smart-home.yaml'), block('entities:\n  - id: sensor.boiler'));
    const { config } = loadConfig({ data: dir }, {}, dir);
    mkdirSync(path.join(dir, 'scripts'));
    writeFileSync(
      path.join(dir, 'scripts', 'boiler.coffee'),
      readFileSync(new URL('test/fixtures/e154/boiler.coffee', ROOT), 'utf8'),
    );
    writeFileSync(
      path.join(dir, 'scripts', 'evening.js'),
      "function sceneEvent(entityId, args) { Mqtt.publish('test/evening', marshal({ entityId, args }), 0, false); }",
    );
    const h = await startHub({ entities: config.entities }, dir);
    try {
      const c = await connect(h.url);
      const got = collect(c);
      await c.subscribeAsync('test/evening', { qos: 1 });
      assert.equal(h.hub.registry.get('sensor.boiler')?.attributes.temperature, 20);
      await h.hub.entities.callAction('sensor.boiler', 'HEAT', {}, 'test');
      assert.equal(h.hub.registry.get('sensor.boiler')?.state, 'heating');
      const water = h.hub.entities.metricHistory('sensor.boiler', 'water', {});
      assert.deepEqual(
        Object.values(water.items).map((i) => i.points.length),
        [1, 1],
      );
      const said = /\(`(state "exploding" is not one of its states \(heating, idle\))`\)/.exec(README);
      assert.ok(said, 'the README quotes the error');
      // every writer is held to the states, not only e154's functions
      assert.throws(
        () => h.hub.entities.setState('sensor.boiler', 'exploding'),
        (err: Error) => err.message.includes(said[1]!),
      );
      await h.hub.entities.callAction('scene.evening', 'activate', {}, 'test');
      await got.next(1);
      assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), { entityId: 'scene.evening', args: {} });
      c.end();
    } finally {
      await h.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('README: porch_light loads as printed; stopped in its delay, it turns the light off after the restart at the deadline', async () => {
  const dir = tempDir();
  try {
    writeFileSync(path.join(dir, 'automations.yaml'), block('- id: porch_light'));
    const t0 = Date.UTC(2026, 11, 2, 21, 0);
    const config = { entities: [{ id: 'binary_sensor.porch_motion_occupancy' }] };
    let clock = fakeClock(t0);
    let h = await startHub(config, dir, undefined, { clock });
    try {
      assert.equal(h.hub.automations.lastError, undefined);
      const c = await connect(h.url);
      const got = collect(c);
      await c.subscribeAsync('zigbee2mqtt/porch_light/set', { qos: 1 });
      h.hub.entities.setState('binary_sensor.porch_motion_occupancy', 'on');
      await c.publishAsync('zigbee2mqtt/porch_motion', JSON.stringify({ occupancy: true }), { qos: 1 });
      await got.next(1);
      assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), { state: 'ON' });
      clock.advance(60_000);
      h.hub.entities.setState('binary_sensor.porch_motion_occupancy', 'off');
      await waitFor(() => h.hub.automations.waits.all()[0]?.kind === 'delay', 5000, 'in its delay');
      c.end();
      await h.stop();
      // back 3 minutes into the 5-minute delay
      clock = fakeClock(t0 + 60_000 + 3 * 60_000);
      h = await startHub(config, dir, undefined, { clock });
      const c2 = await connect(h.url);
      const got2 = collect(c2);
      await c2.subscribeAsync('zigbee2mqtt/porch_light/set', { qos: 1 });
      clock.advance(2 * 60_000);
      await got2.next(1);
      assert.deepEqual(JSON.parse(got2.messages[0]!.payload.toString()), { state: 'OFF' });
      c2.end();
    } finally {
      await h.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('README: evening_lights loads as printed and turns the light on half an hour before sunset, during the day', async () => {
  const dir = tempDir();
  try {
    mkdirSync(path.join(dir, 'scripts'));
    writeFileSync(
      path.join(dir, 'scripts', 'living.js'),
      "function entityAction(id, action) { Mqtt.publish('test/living', action, 0, false); }",
    );
    writeFileSync(path.join(dir, 'automations.yaml'), block('- id: evening_lights'));
    const noon = Date.parse('2026-12-02T12:00:00+01:00');
    const clock = fakeClock(noon);
    const h = await startHub(
      {
        home: { latitude: 52.52, longitude: 13.405, timezone: 'Europe/Berlin' },
        entities: [{ id: 'light.living_room', script: 'living.js' }],
      },
      dir,
      undefined,
      { clock },
    );
    try {
      assert.equal(h.hub.automations.lastError, undefined);
      const c = await connect(h.url);
      const got = collect(c);
      await c.subscribeAsync('test/living', { qos: 1 });
      clock.advance(h.hub.sun!.next('sunset', noon, -30 * 60_000)! - noon);
      await got.next(1);
      assert.equal(got.messages[0]!.payload.toString(), 'turn_on');
      c.end();
    } finally {
      await h.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('README: porch.js moves its named timer on each motion and turns the light off 10 minutes after the last', async () => {
  const dir = tempDir();
  try {
    mkdirSync(path.join(dir, 'scripts'));
    writeFileSync(path.join(dir, 'scripts', 'porch.js'), block('// data/scripts/porch.js'));
    const clock = fakeClock(Date.parse('2026-12-02T21:00:00Z'));
    const h = await startHub({}, dir, undefined, { clock });
    try {
      await waitFor(() => h.hub.scripts.list().some((s) => s.name === 'porch.js'), 10000, 'porch.js');
      const c = await connect(h.url);
      const got = collect(c);
      await c.subscribeAsync('zigbee2mqtt/porch_light/set', { qos: 1 });
      const motion = async () => {
        const delivered = () => h.hub.scripts.list().find((s) => s.name === 'porch.js')!.delivered;
        const before = delivered();
        await c.publishAsync('zigbee2mqtt/porch_motion', JSON.stringify({ occupancy: true }), { qos: 1 });
        await waitFor(() => delivered() > before, 5000, 'the motion handled');
      };
      await motion();
      clock.advance(6 * 60_000);
      await motion(); // moves porch_off to 10 min from now
      clock.advance(6 * 60_000);
      assert.equal(got.messages.length, 0, 'not 10 min after the first motion');
      clock.advance(4 * 60_000);
      await got.next(1);
      assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), { state: 'OFF' });
      c.end();
    } finally {
      await h.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('README: evening.ts imports lib/lights.ts as printed and dims the living room from the remote', async () => {
  const dir = tempDir();
  try {
    mkdirSync(path.join(dir, 'scripts', 'lib'), { recursive: true });
    writeFileSync(path.join(dir, 'scripts', 'lib', 'lights.ts'), block('// data/scripts/lib/lights.ts'));
    writeFileSync(path.join(dir, 'scripts', 'evening.ts'), block('// data/scripts/evening.ts'));
    writeFileSync(
      path.join(dir, 'scripts', 'living.js'),
      "function entityAction(id, action, params) { Mqtt.publish('test/living', JSON.stringify({ action, params }), 1, false); }",
    );
    const h = await startHub({ entities: [{ id: 'light.living_room', script: 'living.js' }] }, dir);
    try {
      assert.ok(h.hub.scripts.list().some((s) => s.name === 'evening.ts'));
      // smart-home check exits 0 (exec rejects otherwise): evening.ts type-checks against lib/lights.ts
      await exec(process.execPath, [CLI, 'check', path.join(dir, 'scripts', 'evening.ts')], { env: cleanEnv() });
      const c = await connect(h.url);
      const got = collect(c);
      await c.subscribeAsync('test/living', { qos: 1 });
      await c.publishAsync('zigbee2mqtt/living_remote', JSON.stringify({ action: 'brightness_down_click' }), {
        qos: 1,
      });
      await got.next(1);
      assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), {
        action: 'turn_on',
        params: { brightness: 51 },
      });
      c.end();
    } finally {
      await h.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('README: notifications: the config and secrets.yaml load as printed; freezer.js tells the family on Telegram; a host not allowed gets the printed error', async () => {
  const dir = tempDir();
  const dir2 = tempDir();
  const svc = await startFakeServices('123456:ABC-DEF1234ghIkl');
  try {
    writeFileSync(path.join(dir, 'smart-home.yaml'), block('# data/smart-home.yaml\nnotify:'));
    writeFileSync(path.join(dir, 'secrets.yaml'), block('# data/secrets.yaml'));
    const { config } = loadConfig({ data: dir }, {}, dir);
    const t = config.notify.targets;
    assert.deepEqual(Object.keys(t), ['phone', 'family', 'me', 'mail', 'nodered']);
    assert.ok(t.family?.type === 'telegram' && t.family.token === '123456:ABC-DEF1234ghIkl');
    assert.ok(t.mail?.type === 'email' && t.mail.password === 'correct horse battery staple');
    assert.deepEqual(config.scripts.http.allow, ['api.example.com', '192.168.1.50']);
    // the same targets; family's Telegram API is a local stand-in
    const h = await startHub(
      { notify: { targets: { ...t, family: { ...t.family, api_url: `${svc.base}/telegram` } } } },
      dir2,
    );
    try {
      const s = await h.hub.scripts.load(path.join(dir2, 'freezer.js'), {}, block('// data/scripts/freezer.js'));
      const c = await connect(h.url);
      await c.publishAsync('zigbee2mqtt/freezer', JSON.stringify({ temperature: -8, battery: 97 }), { qos: 1 });
      await waitFor(() => s.logs.some((l) => l.message === 'family told'), 10000, 'family told');
      assert.deepEqual(
        svc.received.map((r) => r.body),
        [{ chat_id: -1001234567, text: 'Freezer\nThe freezer is at -8 °C', disable_notification: false }],
      );
      const printed = block('http.get: api.weather.example').trim();
      const probe = await h.hub.scripts.load(
        path.join(dir2, 'probe.js'),
        {},
        "http.get('https://api.weather.example/today').catch((e) => console.log(e.message));",
      );
      // the request's own line in the script's log, then the script's
      await waitFor(() => probe.logs.length >= 2, 10000, 'the refusal');
      assert.match(probe.logs[0]!.message, /^GET https:\/\/api\.weather\.example\/today failed: .* \(.*probe\.js:1\)$/);
      assert.equal(probe.logs[1]!.message, printed);
    } finally {
      await h.stop();
    }
  } finally {
    await svc.close();
    removeDir(dir);
    removeDir(dir2);
  }
});

test('README: the configuration reference is a valid config, and names every top-level key', () => {
  const reference = parseYaml(block('data_dir: ./data')) as Record<string, unknown>;
  const parsed = configSchema.safeParse(reference);
  assert.ok(parsed.success, JSON.stringify(!parsed.success && parsed.error.issues));
  assert.deepEqual(Object.keys(reference).sort(), Object.keys(configSchema.parse({})).sort());
});

test('README: the config error example is the error the hub gives', async () => {
  const printed = block('smart-home: /etc/smart-home/smart-home.yaml:2:3').trim();
  const dir = tempDir();
  try {
    const file = path.join(dir, 'smart-home.yaml');
    writeFileSync(file, 'broker:\n  max_conections: 1000\n');
    const got = await sh(`./smart-home serve --config ${file}`);
    assert.equal(got.code, 2);
    const [head] = printed.split(', ...');
    assert.ok(got.stderr.startsWith(head!.replace('/etc/smart-home/smart-home.yaml', file)), got.stderr);
  } finally {
    removeDir(dir);
  }
});

test('README: the command line summary lists what --help offers', async () => {
  const summary = block('smart-home serve [--config FILE]');
  for (const line of summary.split('\n').filter(Boolean)) {
    const m = /^smart-home ((?:user )?[a-z]+)/.exec(line);
    if (!m || m[1] === 'user list') continue;
    const help = (await exec(process.execPath, [CLI, ...m[1]!.split(' '), '--help'], { env: cleanEnv() })).stdout;
    for (const flag of line.match(/--[a-z-]+/g) ?? [])
      if (flag !== '--help' && flag !== '--version') assert.ok(help.includes(flag), `${m[1]} --help lists ${flag}`);
  }
});

test('README: the two commands (npm start prints its ready lines; scripts/test.sh is what CI runs)', async () => {
  const [start, tests] = commands(block('npm install && npm start'));
  assert.match(start!, /^npm install && npm start/);
  assert.match(tests!, /^bash scripts\/test\.sh/);
  assert.match(readFileSync(new URL('.ci/run', ROOT), 'utf8'), /bash scripts\/test\.sh/);
  const dir = tempDir();
  const [m, h] = [await freePort(), await freePort()];
  const child = spawn('npm', ['start'], {
    cwd: new URL('.', ROOT).pathname,
    detached: true,
    env: { ...cleanEnv(), SMART_HOME_DATA: dir, SMART_HOME_MQTT_PORT: String(m), SMART_HOME_HTTP_PORT: String(h) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await waitFor(
      () => /ready\nMQTT {2}mqtt:\/\/127\.0\.0\.1:\d+\nHTTP {2}http:\/\/127\.0\.0\.1:\d+\nDATA/.test(out),
      20000,
      `npm start ready (${out})`,
    );
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGTERM'); // npm and the hub it started
    await exited;
    removeDir(dir);
  }
});

test('README: smart-home test runs the hall script and porch_light in a simulated home, printing what the README prints', async () => {
  const dir = tempDir('smart-home-readme-test-');
  try {
    mkdirSync(path.join(dir, 'data', 'scripts'), { recursive: true });
    writeFileSync(path.join(dir, 'data', 'scripts', 'hall.js'), block('// data/scripts/hall.js'));
    writeFileSync(path.join(dir, 'data', 'scripts', 'hall.test.js'), block('// data/scripts/hall.test.js'));
    writeFileSync(path.join(dir, 'data', 'automations.yaml'), block('- id: porch_light'));
    writeFileSync(path.join(dir, 'smart-home'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(path.join(dir, 'smart-home'), 0o755);
    const [command, ...printed] = block('$ ./smart-home test\n').trimEnd().split('\n');
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn('bash', ['-c', command!.slice(2)], {
        cwd: dir,
        env: cleanEnv(),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
    assert.equal(r.code, 0, r.stdout);
    // the same lines; only the milliseconds differ from run to run
    const ms = (lines: string[]) =>
      lines.map((l) => l.replace(/\(\d+ms\)$/, '(…ms)').replace(/duration_ms \d+/, 'duration_ms …'));
    assert.deepEqual(ms(r.stdout.trimEnd().split('\n')), ms(printed));
  } finally {
    removeDir(dir);
  }
});

test('README: every example block is run by a test above', () => {
  const unclaimed = blocks.flatMap((b, i) =>
    claimed.has(i) ? [] : [`${b.lang || '(plain)'}: ${b.body.split('\n')[0]}`],
  );
  assert.deepEqual(unclaimed, []);
});
