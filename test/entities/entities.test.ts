// Entities, actions (the seed's CoffeeScript as an action body), state and Storage from scripts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub, connect, collect, waitFor, tempDir, removeDir, runCli, type TestHub } from '../helpers.js';

const SEED_COFFEE = fileURLToPath(new URL('../../../test/fixtures/seed-example.coffee', import.meta.url));
let h: TestHub;
let dir: string;
before(async () => {
  dir = tempDir();
  const scripts = path.join(dir, 'scripts');
  mkdirSync(scripts);
  // the seed's CoffeeScript example, with its missing paren fixed, as the body of an action
  writeFileSync(
    path.join(scripts, 'device.coffee'),
    readFileSync(SEED_COFFEE, 'utf8').replace('Mqtt.publish"', 'Mqtt.publish("'),
  );
  writeFileSync(
    path.join(scripts, 'fan.js'),
    `
    let calls = 0;
    function entityAction(entityId, actionName, params) {
      calls++;
      return Mqtt.publish('fans/' + entityId + '/set', { action: actionName, speed: params.speed ?? null, calls }, 1);
    }
  `,
  );
  writeFileSync(
    path.join(scripts, 'broken.js'),
    `function entityAction(id, action) {\n  throw new Error('cannot ' + action);\n}\n`,
  );
  h = await startHub(
    {
      http: { enabled: true, port: 0 },
      entities: [
        { id: 'light.device', name: 'Device light', script: 'device.coffee', actions: ['on', 'off'] },
        { id: 'fan.bedroom', script: 'fan.js' },
        { id: 'switch.broken', script: 'broken.js' },
        { id: 'sensor.note' },
      ],
    },
    dir,
  );
});
after(async () => {
  await h.stop();
  removeDir(dir);
});

test('the fixed seed CoffeeScript runs as an action body: action light.device on publishes {"state":"on"}', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('zigbee2mqtt/device/set', { qos: 2 });
  const r = await runCli(['action', 'light.device', 'on', '--url', h.hub.api!.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'light.device: on done');
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), '{"state":"on"}');
  assert.equal(m!.qos, 0);
  assert.equal(m!.retain, false);
  c.end();
});

test('action scripts are not started on their own at hub start', () => {
  assert.ok(!h.hub.scripts.list().some((s) => s.name === 'device.coffee'), JSON.stringify(h.hub.scripts.list()));
});

test('entityAction(entityId, actionName, params) is called when the script defines it, with --param values', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('fans/#', { qos: 1 });
  const r = await runCli(['action', 'fan.bedroom', 'speed', '--param', 'speed=3', '--url', h.hub.api!.url]);
  assert.equal(r.code, 0, r.stderr);
  await h.hub.entities.callAction('fan.bedroom', 'off', {}, 'test');
  await got.next(2);
  assert.deepEqual(
    got.messages.map((m) => [m.topic, JSON.parse(m.payload.toString())]),
    [
      ['fans/fan.bedroom/set', { action: 'speed', speed: 3, calls: 1 }],
      ['fans/fan.bedroom/set', { action: 'off', speed: null, calls: 2 }],
    ],
  );
  c.end();
});

test('an unknown entity or action is a clear error (CLI exit 1, API 404/400)', async () => {
  const r = await runCli(['action', 'light.nowhere', 'on', '--url', h.hub.api!.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no entity "light\.nowhere"/);
  const a = await runCli(['action', 'light.device', 'blink', '--url', h.hub.api!.url]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /entity light\.device has no action "blink"; its actions: on, off/);
  const res = await fetch(`${h.hub.api!.url}/api/entities/light.nowhere/actions/on`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNKNOWN_ENTITY');
});

test('an action that throws reports the script line, and the hub goes on', async () => {
  const r = await runCli(['action', 'switch.broken', 'on', '--url', h.hub.api!.url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /action on of switch\.broken failed: .*broken\.js:2:\d+: Error: cannot on/);
  const ok = await runCli(['action', 'light.device', 'off', '--url', h.hub.api!.url]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('scripts read and set entity state; changes are events and history, last_changed moves only on change', async () => {
  const changes: unknown[] = [];
  const off = h.hub.events.on('entity.stateChanged', (e) => changes.push(e));
  const s = await h.hub.scripts.load(
    '/scripts/state.js',
    {},
    `
    Entity.setState('sensor.note', { text: 'hello' }, { unit: 'words' });
    Entity.setState('sensor.note', { text: 'hello' });
    console.log(JSON.stringify(Entity.getState('sensor.note')));
    try { Entity.getState('sensor.missing'); } catch (e) { console.log(e.name + ': ' + e.message); }
  `,
  );
  off();
  assert.deepEqual(
    s.logs.map((l) => l.message),
    ['{"text":"hello"}', 'EntityError: no entity "sensor.missing"'],
  );
  assert.equal(changes.length, 1);
  const e = h.hub.registry.get('sensor.note')!;
  assert.deepEqual(e.attributes, { unit: 'words' });
  assert.ok(e.lastChanged! <= e.lastUpdated!);
  assert.equal(h.hub.recorder.history('sensor.note', { since: 0, resolution: 'raw' }).points.length, 1);
});

test('Entity.callAction from a script runs the action and resolves', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('zigbee2mqtt/device/set');
  const s = await h.hub.scripts.load(
    '/scripts/caller.js',
    {},
    `
    Entity.callAction('light.device', 'on').then(() => console.log('resolved'));
    Entity.callAction('light.device', 'explode').catch((e) => console.log(e.name, e.code));
  `,
  );
  await waitFor(() => s.logs.length >= 2);
  assert.deepEqual(s.logs.map((l) => l.message).sort(), ['EntityError UNKNOWN_ACTION', 'resolved']);
  await got.next(1);
  c.end();
});

test('Storage is per script and persisted', async () => {
  const a = await h.hub.scripts.load(
    '/scripts/a.js',
    {},
    `Storage.set('count', 41); Storage.set('obj', {x: [1, 2]}); Storage.set('tmp', 1); Storage.delete('tmp'); console.log(JSON.stringify(Storage.keys()));`,
  );
  assert.deepEqual(
    a.logs.map((l) => l.message),
    ['["count","obj"]'],
  );
  const b = await h.hub.scripts.load(
    '/scripts/b.js',
    {},
    `console.log(String(Storage.get('count')), JSON.stringify(Storage.keys()));`,
  );
  assert.deepEqual(
    b.logs.map((l) => l.message),
    ['null []'],
    'another script cannot read it',
  );
  h.hub.scripts.unload('a.js');
  const again = await h.hub.scripts.load(
    '/scripts/a.js',
    {},
    `console.log(Storage.get('count') + 1, JSON.stringify(Storage.get('obj')));`,
  );
  assert.deepEqual(
    again.logs.map((l) => l.message),
    ['42 {"x":[1,2]}'],
  );
});
