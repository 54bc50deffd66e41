// Scripts written for e154 Smart Home (test/fixtures/e154, in its own style) run unchanged:
// entityAction declared with function/const/let/var, in JS, TypeScript and CoffeeScript; init()
// once when the entity's script starts; ENTITY_ID; the Entity* globals, e154's shared Storage,
// marshal/hex2arr/print; ExecuteSync refused with the reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeServices, type FakeServices } from '../fixtures/notify-servers.js';
import { startHub, connect, collect, tempDir, removeDir, runCli, waitFor, type TestHub } from '../helpers.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/e154/', import.meta.url));
let h: TestHub;
let dir: string;

const entities = [
  { id: 'switch.ts_const', script: 'ts-const.ts' },
  { id: 'switch.js_let', script: 'js-let.js' },
  { id: 'switch.js_var', script: 'js-var.js' },
  { id: 'switch.coffee', script: 'coffee.coffee' },
  { id: 'sensor.checker', script: 'checker.ts' },
  { id: 'lock.vault', script: 'vault.js' },
  { id: 'sensor.kitchen_temp', script: 'mqtt-event.js', subscribe_topic: 'home/temp/+' },
  { id: 'sensor.miner', script: 'telegram-report.coffee' },
  { id: 'sensor.hall_button', script: 'z2m-button.coffee', zigbee2mqtt_device: 'hall button' },
  { id: 'climate.bedroom', script: 'thermostat.js', settings: { max_temp: 24, room: 'bedroom' } },
  { id: 'switch.night_mode', script: 'tasks.js' },
  { id: 'sensor.ble_gw', script: 'ble-gateway.js' },
  { id: 'sensor.ble_term', script: 'ble-term.js' },
  { id: 'switch.garden_pump', script: 'js-var.js', area: 'garden' },
  { id: 'switch.garden_light', script: 'js-let.js', area: 'Garden' },
  { id: 'sensor.garden', script: 'garden.js' },
  {
    id: 'sensor.boiler',
    script: 'boiler.coffee',
    states: [
      { name: 'heating', description: 'Heating', icon: 'mdi:fire' },
      { name: 'idle', description: 'Idle' },
    ],
    attributes: { temperature: { type: 'float', value: 20 }, since: 'time', mode: 'string' },
    metrics: [{ name: 'water', unit: '°C', items: [{ name: 'temperature' }, { name: 'pressure' }] }],
  },
  { id: 'scene.romantic', type: 'scene', script: 'scene-romantic.js' },
  { id: 'switch.evening', script: 'evening.js' },
];

let svc: FakeServices;

async function start(): Promise<void> {
  h = await startHub(
    {
      http: { enabled: true, port: 0 },
      entities,
      notify: {
        targets: {
          clavicus: { type: 'telegram', token: svc.telegramToken, chat_id: 7, api_url: `${svc.base}/telegram` },
        },
        templates: { report: 'Miner: {{ params.temp }} °C, fan {{ params.fan }} rpm' },
      },
    },
    dir,
  );
}

before(async () => {
  svc = await startFakeServices();
  dir = tempDir();
  const scripts = path.join(dir, 'scripts');
  mkdirSync(scripts);
  for (const f of readdirSync(CORPUS)) copyFileSync(path.join(CORPUS, f), path.join(scripts, f));
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    [
      '- id: night_mode\n  triggers:\n    - type: mqtt\n      topic: test/night/go\n  actions:\n    - type: publish\n      topic: test/night\n      payload: dim\n',
      '- id: pump_watch\n  triggers:\n    - type: state\n      entity: switch.garden_pump\n      script_file: automation-callbacks.js\n',
      '  conditions:\n    - type: script\n      script_file: automation-callbacks.js\n',
      '  actions:\n    - type: script\n      script_file: automation-callbacks.js\n',
    ].join(''),
  );
  await start();
});
after(async () => {
  await h.stop();
  await svc.close();
  removeDir(dir);
});

test("entityAction is found however it is declared: TS const (the issue's example), JS let and var, CoffeeScript", async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/ea', { qos: 1 });
  for (const { id } of entities.slice(0, 4)) {
    const r = await runCli(['action', id, 'ON', '--url', h.hub.api!.url]);
    assert.equal(r.code, 0, `${id}: ${r.stderr}`);
  }
  await got.next(4);
  assert.deepEqual(
    got.messages.map((m) => JSON.parse(m.payload.toString())),
    [
      { entityId: 'switch.ts_const', actionName: 'ON' },
      { entityId: 'switch.js_let', actionName: 'ON', style: 'let', id: 'switch.js_let' },
      { entityId: 'switch.js_var', actionName: 'ON', style: 'var' },
      { entityId: 'switch.coffee', actionName: 'ON', style: 'coffee' },
    ],
  );
  c.end();
});

test('init() ran once when the hub started, with ENTITY_ID, EntitySetState, hex2arr and the shared Storage', () => {
  const e = h.hub.registry.get('sensor.checker');
  assert.equal(e?.state, 'connected');
  assert.deepEqual(e?.attributes.bytes, [72, 101, 108, 108, 111]);
  assert.equal(e?.attributes.inits, 1);
  const log = h.hub.scripts.get('entity:sensor.checker')?.logs.map((l) => l.message);
  assert.deepEqual(log, ['checker ready sensor.checker']);
});

test('Entity* globals read and change the entity; Storage.search finds what init pushed', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/check', { qos: 1 });
  const r = await runCli(['action', 'sensor.checker', 'CHECK', '--url', h.hub.api!.url]);
  assert.equal(r.code, 0, r.stderr);
  const [m] = await got.next(1);
  assert.deepEqual(JSON.parse(m!.payload.toString()), {
    state: { name: 'connected', description: '', image_url: null, icon: null },
    inits: 1,
    found: { 'checker.sensor.checker': '1' },
  });
  const e = h.hub.registry.get('sensor.checker');
  assert.equal(e?.attributes.checked, true);
  assert.equal(e?.attributes.was, 'connected');
  assert.equal(e?.state, 'connected', 'EntitySetAttributes keeps the state');
  const off = await runCli(['action', 'sensor.checker', 'OFF', '--url', h.hub.api!.url]);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(h.hub.registry.get('sensor.checker')?.state, 'disconnected');
  // an action does not run init again
  assert.equal(h.hub.registry.get('sensor.checker')?.attributes.inits, 1);
  c.end();
});

test('ExecuteSync is refused with the reason, located at its line in the script', async () => {
  const r = await runCli(['action', 'sensor.checker', 'EXEC', '--url', h.hub.api!.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /checker\.ts:27:\d+: Error: ExecuteSync: scripts cannot run commands on the hub's machine/);
});

test("mqttEvent(message) gets the messages of the entity's subscribe_topic, in e154's shape", async () => {
  const c = await connect(h.url);
  await c.publishAsync('home/temp/kitchen', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
  await waitFor(() => h.hub.registry.get('sensor.kitchen_temp')?.state === '21.5');
  assert.deepEqual(
    { ...h.hub.registry.get('sensor.kitchen_temp')?.attributes, friendly_name: undefined },
    { topic: 'home/temp/kitchen', qos: 1, duplicate: false, friendly_name: undefined },
  );
  c.end();
});

test("zigbee2mqttEvent gets its device's messages (zigbee2mqtt/<friendly name>), also as the global message e154's older scripts read", async () => {
  const c = await connect(h.url);
  await c.publishAsync(
    'zigbee2mqtt/hall button',
    JSON.stringify({ action: 'single', battery: 100, linkquality: 126, voltage: 3042 }),
    { qos: 1 },
  );
  await waitFor(() => h.hub.registry.get('sensor.hall_button')?.state === 'single_action');
  const a = h.hub.registry.get('sensor.hall_button')!.attributes;
  assert.deepEqual([a.battery, a.linkquality, a.voltage, a.action], [100, 126, 3042, 'single']);
  c.end();
});

test('Encrypt/Decrypt: what is stored is not the secret, Decrypt gives it back, a changed text is refused', async () => {
  const api = h.hub.api!.url;
  assert.equal(
    (await runCli(['action', 'lock.vault', 'SEAL', '--param', 'secret=door-code-4711', '--url', api])).code,
    0,
  );
  const row = h.hub.db.prepare('SELECT group_concat(value) AS v FROM script_storage').get() as { v: string | null };
  const stored = String(row.v ?? '');
  assert.match(stored, /shc1:/);
  assert.doesNotMatch(stored, /door-code-4711/);
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/vault', { qos: 1 });
  assert.equal((await runCli(['action', 'lock.vault', 'OPEN', '--url', api])).code, 0);
  assert.equal((await got.next(1))[0]!.payload.toString(), 'door-code-4711');
  const bad = await runCli(['action', 'lock.vault', 'TAMPER', '--url', api]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /vault\.js:5:\d+: TypeError: Decrypt: the text was changed/);
  c.end();
});

test('after a restart init() runs again and sees what the shared Storage kept', async () => {
  await h.stop();
  await start();
  assert.equal(h.hub.registry.get('sensor.checker')?.attributes.inits, 2);
});

test('the TypeScript ones type-check against types/smart-home.d.ts (smart-home check)', async () => {
  const r = await runCli(['check', path.join(CORPUS, 'ts-const.ts'), path.join(CORPUS, 'checker.ts')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test("e154's notifr and template.render (CoffeeScript, as e154's docs write it): the action ends when Telegram accepted the report", async () => {
  const r = await runCli(['action', 'sensor.miner', 'CHECK', '--url', h.hub.api!.url]);
  assert.equal(r.code, 0, r.stderr);
  const sent = svc.received.filter((m) => m.service === 'telegram');
  assert.deepEqual(
    sent.map((m) => m.body),
    [{ chat_id: 7, text: 'Miner: 41 °C, fan 5400 rpm', disable_notification: false }],
  );
});

test('EntityGetSettings gives the configured settings; EntitySetState settings_value changes them, kept across a restart', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/thermostat', { qos: 1 });
  const api = h.hub.api!.url;
  for (const action of ['CHECK', 'RAISE'])
    assert.equal((await runCli(['action', 'climate.bedroom', action, '--url', api])).code, 0);
  await got.next(2);
  assert.deepEqual(
    got.messages.map((m) => JSON.parse(m.payload.toString())),
    [
      { max: 24, room: 'bedroom', via: 24 },
      { max: 26, room: 'bedroom', via: 26 },
    ],
  );
  c.end();
  await h.stop();
  await start();
  const c2 = await connect(h.url);
  const got2 = collect(c2);
  await c2.subscribeAsync('test/thermostat', { qos: 1 });
  assert.equal((await runCli(['action', 'climate.bedroom', 'CHECK', '--url', h.hub.api!.url])).code, 0);
  await got2.next(1);
  assert.deepEqual(JSON.parse(got2.messages[0]!.payload.toString()), { max: 26, room: 'bedroom', via: 26 });
  c2.end();
});

test("PushSystemEvent (e154's tasks are automations here): disable, enable and run one; a command with no counterpart is refused, saying so", async () => {
  const api = h.hub.api!.url;
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/night', { qos: 1 });
  const act = (a: string) => runCli(['action', 'switch.night_mode', a, '--url', api]);
  const enabled = () => h.hub.automations.list().find((a) => a.id === 'night_mode')?.enabled;
  assert.equal(enabled(), true);
  assert.equal((await act('OFF')).code, 0);
  assert.equal(enabled(), false);
  assert.equal((await act('ON')).code, 0);
  assert.equal(enabled(), true);
  assert.equal((await act('RUN')).code, 0);
  await got.next(1);
  assert.equal(got.messages[0]!.payload.toString(), 'dim');
  const load = await act('LOAD');
  assert.notEqual(load.code, 0);
  assert.match(load.stderr + load.stdout, /PushSystemEvent: "command_load_entity" has no counterpart in this hub/);
  c.end();
});

test("EntityCallScript calls a function of another entity's script with a payload and gets its result; a missing function is named", async () => {
  const api = h.hub.api!.url;
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/ble', { qos: 1 });
  const r = await runCli(['action', 'sensor.ble_gw', 'FORWARD', '--url', api]);
  assert.equal(r.code, 0, r.stderr);
  await got.next(1);
  assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), {
    answer: { stored: 19.5, by: 'sensor.ble_term' },
  });
  assert.equal(h.hub.registry.get('sensor.ble_term')?.state, '19.5');
  const missing = await runCli(['action', 'sensor.ble_gw', 'MISSING', '--url', api]);
  assert.notEqual(missing.code, 0);
  assert.match(
    missing.stderr + missing.stdout,
    /EntityCallScript: the script of sensor\.ble_term \(ble-term\.js\) has no function nope/,
  );
  c.end();
});

test('EntitiesCallAction runs the action on every entity of an area; tags (which entities here do not have) are refused, saying so', async () => {
  const api = h.hub.api!.url;
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/garden', { qos: 1 });
  await c.subscribeAsync('test/ea', { qos: 1 });
  const r = await runCli(['action', 'sensor.garden', 'ALL_ON', '--url', api]);
  assert.equal(r.code, 0, r.stderr);
  await got.next(3);
  const byTopic = (t: string) => got.messages.filter((m) => m.topic === t).map((m) => JSON.parse(m.payload.toString()));
  assert.deepEqual(
    byTopic('test/ea')
      .map((m) => m.entityId)
      .sort(),
    ['switch.garden_light', 'switch.garden_pump'],
  );
  assert.deepEqual(byTopic('test/garden'), [
    { called: ['switch.garden_light', 'switch.garden_pump'], skipped: [], failed: [] },
  ]);
  const tags = await runCli(['action', 'sensor.garden', 'TAGS', '--url', api]);
  assert.notEqual(tags.code, 0);
  assert.match(
    tags.stderr + tags.stdout,
    /EntitiesCallAction: entities have no tags in this hub; select them by area_id/,
  );
  c.end();
});

test("e154's automation callbacks through script_file: automationTriggerStateChanged (false stops the run), automationCondition, automationAction", async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/auto', { qos: 1 });
  assert.equal(h.hub.scripts.get('automation-callbacks.js'), undefined, 'a callbacks file does not run on its own');
  h.hub.registry.setState('switch.garden_pump', 'on');
  await got.next(1);
  assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), {
    entityId: 'switch.garden_pump',
    by: 'automationAction',
  });
  h.hub.registry.setState('switch.garden_pump', 'off');
  await waitFor(
    () => h.hub.automations.runs('pump_watch').filter((r) => r.status !== 'running').length >= 2,
    10000,
    'the second run, finished',
  );
  const [last, first] = h.hub.automations.runs('pump_watch');
  assert.equal(first!.status, 'ok');
  assert.equal(last!.status, 'skipped');
  // the trigger callback stopped it: the condition was not even asked
  assert.equal(last!.steps.length, 1, JSON.stringify(last!.steps));
  assert.equal(last!.steps[0]!.result, 'false');
  assert.match(
    String(last!.steps[0]!.detail),
    /automationTriggerStateChanged of automation-callbacks\.js returned false/,
  );
  const log = h.hub.scripts.get('automation-file:automation-callbacks.js')?.logs.map((l) => l.message);
  assert.deepEqual(log, ['trigger switch.garden_pump "on"', 'trigger switch.garden_pump "off"']);
  const neither = await h.hub.automations.put({
    id: 'empty_step',
    triggers: [{ type: 'mqtt', topic: 'x/y' }],
    actions: [{ type: 'script' }],
  });
  assert.match(
    String(neither),
    /automations\.yaml:\d+:\d+: empty_step\.actions\[0\]: a script step needs code or script_file \(one of the two\)/,
  );
  c.end();
});

test("declared states, typed attributes and a metric: EntitySetState coerces to the types, EntityGetState gives the state's description and icon, EntitySetMetric records each item", async () => {
  const api = h.hub.api!.url;
  // a declared attribute starts at its value
  assert.equal(h.hub.registry.get('sensor.boiler')?.attributes.temperature, 20);
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/boiler', { qos: 1 });
  assert.equal((await runCli(['action', 'sensor.boiler', 'HEAT', '--url', api])).code, 0);
  await got.next(1);
  assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), {
    state: { name: 'heating', description: 'Heating', image_url: null, icon: 'mdi:fire' },
    attrs: { temperature: 61.5, since: '2025-12-02T18:26:40.000Z' },
  });
  const metric = (await fetch(`${api}/api/entities/sensor.boiler/metrics/water`).then((r) => r.json())).data;
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(metric.items as Record<string, { points: { state: number }[] }>).map(([k, v]) => [
        k,
        v.points.map((p) => p.state),
      ]),
    ),
    { temperature: [61.5], pressure: [1.8] },
  );
  const one = (await fetch(`${api}/api/entities/sensor.boiler`).then((r) => r.json())).data;
  assert.deepEqual(one.declared.states[0], { name: 'heating', description: 'Heating', icon: 'mdi:fire' });
  assert.equal((await runCli(['action', 'sensor.boiler', 'IDLE', '--url', api])).code, 0);
  await got.next(2);
  assert.deepEqual(JSON.parse(got.messages[1]!.payload.toString()).state.description, 'Idle');
  c.end();
});

test('a state, attribute, type or metric the entity does not declare is refused at the script line, naming what it has', async () => {
  const api = h.hub.api!.url;
  const cases: [string, RegExp][] = [
    ['EXPLODE', /boiler\.coffee:\d+:\d+: .*state "exploding" is not one of its states \(heating, idle\)/],
    ['TYPO', /entity sensor\.boiler has no attribute "temprature" \(it declares temperature, since, mode\)/],
    ['WORDS', /attribute temperature of sensor\.boiler is float: expected a number, got "hot"/],
    ['NO_METRIC', /entity sensor\.boiler has no metric "gas" \(it has water\)/],
  ];
  for (const [action, want] of cases) {
    const r = await runCli(['action', 'sensor.boiler', action, '--url', api]);
    assert.notEqual(r.code, 0, action);
    assert.match(r.stderr + r.stdout, want, action);
  }
  assert.equal(h.hub.registry.get('sensor.boiler')?.state, 'idle');
});

test("EntityCallScene activates a scene (its script's sceneEvent(entityId, args)); the dashboard's activate does the same; a non-scene is refused", async () => {
  const api = h.hub.api!.url;
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('test/scene', { qos: 1 });
  assert.equal((await runCli(['action', 'switch.evening', 'DUSK', '--url', api])).code, 0);
  await got.next(1);
  assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), { entityId: 'scene.romantic', args: { dim: 30 } });
  assert.deepEqual(h.hub.registry.get('scene.romantic')?.actions, ['activate']);
  assert.equal((await runCli(['action', 'scene.romantic', 'activate', '--url', api])).code, 0);
  await got.next(2);
  assert.deepEqual(JSON.parse(got.messages[1]!.payload.toString()), { entityId: 'scene.romantic', args: {} });
  const r = await runCli(['action', 'switch.evening', 'NOT_A_SCENE', '--url', api]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr + r.stdout, /entity sensor\.boiler is not a scene/);
  c.end();
});
