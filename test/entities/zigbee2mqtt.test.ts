// Zigbee2MQTT devices, simulated with payloads in Zigbee2MQTT's documented formats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHub, connect, collect, waitFor, removeDir, portOf, runCli, type TestHub } from '../helpers.js';
import { actionsOf, domainOf } from '../../src/entities/integrations/zigbee2mqtt.js';
import { LIGHT_EXPOSE } from '../fixtures/zigbee2mqtt.js';

const exec = promisify(execFile);
const LIGHT_EXPOSES = [LIGHT_EXPOSE, { type: 'numeric', name: 'linkquality', property: 'linkquality', access: 1 }];
const SENSOR_EXPOSES = [{ type: 'numeric', name: 'temperature', property: 'temperature', access: 1 }];

const devices = (lightName: string, withSensor = true) =>
  JSON.stringify([
    { ieee_address: '0x00124b0000000000', type: 'Coordinator', friendly_name: 'Coordinator', definition: null },
    {
      ieee_address: '0x0017880104e45517',
      type: 'Router',
      friendly_name: lightName,
      definition: { model: 'LED1545G12', vendor: 'IKEA', description: 'TRADFRI bulb', exposes: LIGHT_EXPOSES },
    },
    ...(withSensor
      ? [
          {
            ieee_address: '0x00158d0001a2b3c4',
            type: 'EndDevice',
            friendly_name: 'hall/temp',
            definition: { model: 'WSDCGQ11LM', vendor: 'Aqara', exposes: SENSOR_EXPOSES },
          },
        ]
      : []),
  ]);

let h: TestHub;
before(async () => {
  h = await startHub({ zigbee2mqtt: { enabled: true }, http: { enabled: true, port: 0 } });
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

async function pub(topic: string, payload: string, retain = false): Promise<void> {
  await exec('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(portOf(h.url)),
    '-t',
    topic,
    '-m',
    payload,
    '-q',
    '1',
    ...(retain ? ['-r'] : []),
  ]);
}

test('exposes map to a domain and actions', () => {
  assert.equal(domainOf(LIGHT_EXPOSES), 'light');
  assert.equal(domainOf(SENSOR_EXPOSES), 'sensor');
  assert.deepEqual(actionsOf(LIGHT_EXPOSES), ['on', 'off', 'toggle', 'brightness', 'set']);
  assert.deepEqual(actionsOf(SENSOR_EXPOSES), []);
});

test('a light entity appears from the retained bridge/devices, its state and availability follow', async () => {
  await pub('zigbee2mqtt/bridge/devices', devices('Kitchen Lamp'), true);
  await waitFor(() => !!h.hub.registry.get('light.kitchen_lamp'), 5000, 'the light entity');
  const e = h.hub.registry.get('light.kitchen_lamp')!;
  assert.equal(e.name, 'Kitchen Lamp');
  assert.deepEqual(e.actions, ['on', 'off', 'toggle', 'brightness', 'set']);
  assert.equal(e.attributes.model, 'LED1545G12');
  assert.ok(h.hub.registry.get('sensor.hall_temp'), 'a friendly name with a slash becomes an entity too');
  assert.ok(!h.hub.registry.list().some((x) => x.name === 'Coordinator'));

  await pub('zigbee2mqtt/Kitchen Lamp', '{"state":"ON","brightness":200,"linkquality":87}');
  await waitFor(() => (h.hub.registry.get('light.kitchen_lamp')!.state as { state?: string } | null)?.state === 'ON');
  await pub('zigbee2mqtt/hall/temp', '{"temperature":21.5}');
  await waitFor(
    () => (h.hub.registry.get('sensor.hall_temp')!.state as { temperature?: number } | null)?.temperature === 21.5,
  );

  await pub('zigbee2mqtt/Kitchen Lamp/availability', '{"state":"offline"}');
  await waitFor(() => h.hub.registry.get('light.kitchen_lamp')!.available === false);
  await pub('zigbee2mqtt/Kitchen Lamp/availability', 'online');
  await waitFor(() => h.hub.registry.get('light.kitchen_lamp')!.available === true);
});

test('when Zigbee2MQTT goes offline (bridge/state, its MQTT will) every device is unavailable; back online, each has its own availability again', async () => {
  // lib/mqtt.ts of Zigbee2MQTT: bridge/state is retained, {"state":"online"} on connect and
  // {"state":"offline"} as its will; plain "online"/"offline" with the legacy availability payload
  await pub('zigbee2mqtt/hall/temp/availability', '{"state":"offline"}');
  await waitFor(
    () => h.hub.registry.get('sensor.hall_temp')!.available === false,
    5000,
    'the sensor offline on its own',
  );
  assert.equal(h.hub.registry.get('light.kitchen_lamp')!.available, true);
  await pub('zigbee2mqtt/bridge/state', '{"state":"offline"}', true);
  await waitFor(
    () => h.hub.registry.get('light.kitchen_lamp')!.available === false,
    5000,
    'the light unavailable with its bridge',
  );
  await pub('zigbee2mqtt/bridge/state', 'online', true);
  await waitFor(() => h.hub.registry.get('light.kitchen_lamp')!.available === true, 5000, 'the light back');
  assert.equal(h.hub.registry.get('sensor.hall_temp')!.available, false, 'the sensor keeps its own offline');
  await pub('zigbee2mqtt/hall/temp/availability', '{"state":"online"}');
  await waitFor(() => h.hub.registry.get('sensor.hall_temp')!.available === true, 5000, 'the sensor back');
});

test('action light.x on publishes {"state":"ON"} to its set topic; brightness takes a parameter', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('zigbee2mqtt/Kitchen Lamp/set', { qos: 1 });
  const r = await runCli(['action', 'light.kitchen_lamp', 'on', '--url', h.hub.api!.url]);
  assert.equal(r.code, 0, r.stderr);
  const b = await runCli([
    'action',
    'light.kitchen_lamp',
    'brightness',
    '--param',
    'brightness=120',
    '--url',
    h.hub.api!.url,
  ]);
  assert.equal(b.code, 0, b.stderr);
  await got.next(2);
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['{"state":"ON"}', '{"brightness":120}'],
  );
  const trace = h.hub.trace.recent(20).find((t) => t.topic === 'zigbee2mqtt/Kitchen Lamp/set');
  assert.equal(trace?.source, 'entity light.kitchen_lamp');
  c.end();
});

test("a value outside the device's own range (brightness 0–254) is refused with the range, and nothing is sent", async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('zigbee2mqtt/Kitchen Lamp/set', { qos: 1 });
  const r = await runCli([
    'action',
    'light.kitchen_lamp',
    'brightness',
    '--param',
    'brightness=999',
    '--url',
    h.hub.api!.url,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /light\.kitchen_lamp: brightness 999 is out of range \(0–254\); nothing was sent/);
  const api = await fetch(`${h.hub.api!.url}/api/entities/light.kitchen_lamp/actions/set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ params: { colour: 'red' } }),
  });
  assert.equal(api.status, 400);
  assert.match(
    ((await api.json()) as { error: { code: string; message: string } }).error.message,
    /has no settable "colour"; it accepts state, brightness/,
  );
  const bad = await fetch(`${h.hub.api!.url}/api/entities/light.kitchen_lamp/actions/on`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ params: { brightness: 'bright' } }),
  });
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'BAD_PARAM');
  // the next good command is the first thing on the set topic: the refused ones never went out
  assert.equal(
    (await runCli(['action', 'light.kitchen_lamp', 'brightness', '--param', 'brightness=254', '--url', h.hub.api!.url]))
      .code,
    0,
  );
  await got.next(1);
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['{"brightness":254}'],
  );
  c.end();
});

test('malformed JSON on a device topic is logged and the entity keeps its last good state', async () => {
  const before = h.hub.registry.get('light.kitchen_lamp')!.state;
  await pub('zigbee2mqtt/Kitchen Lamp', '{"state": "OFF", oops');
  await pub('zigbee2mqtt/Kitchen Lamp', '[1,2]');
  // another device's message, published after both: once it is applied, so were they (or not)
  await pub('zigbee2mqtt/hall/temp', '{"temperature":19.5}');
  await waitFor(
    () => (h.hub.registry.get('sensor.hall_temp')?.state as { temperature?: number } | null)?.temperature === 19.5,
    5000,
    'the sensor update',
  );
  assert.deepEqual(h.hub.registry.get('light.kitchen_lamp')!.state, before);
  await pub('zigbee2mqtt/Kitchen Lamp', '{"state":"OFF"}');
  await waitFor(
    () => (h.hub.registry.get('light.kitchen_lamp')!.state as { state?: string }).state === 'OFF',
    5000,
    'good state after bad',
  );
});

test('a renamed device keeps its entity; a removed device loses it', async () => {
  await pub('zigbee2mqtt/bridge/devices', devices('Pantry Lamp'), true);
  await waitFor(() => h.hub.registry.get('light.kitchen_lamp')?.name === 'Pantry Lamp', 5000, 'the rename');
  assert.ok(!h.hub.registry.get('light.pantry_lamp'), 'no second entity');
  await pub('zigbee2mqtt/Pantry Lamp', '{"state":"ON"}');
  await waitFor(
    () => (h.hub.registry.get('light.kitchen_lamp')!.state as { state?: string }).state === 'ON',
    5000,
    'state under the new name',
  );

  await pub('zigbee2mqtt/bridge/devices', devices('Pantry Lamp', false), true);
  await waitFor(() => !h.hub.registry.get('sensor.hall_temp'), 5000, 'the removal');
  assert.ok(h.hub.registry.get('light.kitchen_lamp'));
});
