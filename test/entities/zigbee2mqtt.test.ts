// Zigbee2MQTT, complete: one entity per exposed feature and endpoint, commands confirmed by the
// device's state echo, failed by Zigbee2MQTT's error log or a timeout, availability, groups,
// bridge requests, rename/remove, /get at start, restart without the devices, bad input.
// The devices are the fake Zigbee2MQTT of test/fixtures/fake-zigbee2mqtt.ts with definitions
// from zigbee-herdsman-converters (test/fixtures/zigbee2mqtt.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, waitFor, removeDir, runCli, capturingLogger, type TestHub } from '../helpers.js';
import { entitiesOf } from '../../src/entities/integrations/zigbee2mqtt/exposes.js';
import {
  AQARA_DOOR,
  AQARA_TWO_GANG,
  COORDINATOR,
  device,
  EUROTRONIC_TRV,
  IKEA_BLIND,
  IKEA_BULB,
  IKEA_REMOTE,
  INNR_PLUG,
} from '../fixtures/zigbee2mqtt.js';
import { FakeZigbee2Mqtt } from '../fixtures/fake-zigbee2mqtt.js';

const LAMP = device('Kitchen Lamp', IKEA_BULB, '0x0017880104e45517');
const PLUG = device('Kitchen Plug', INNR_PLUG, '0x000d6f000aaaaaaa');
const WALL = device('Hall Switch', AQARA_TWO_GANG, '0x00158d0001111111');
const REMOTE = device('Bedroom Remote', IKEA_REMOTE, '0x000b57fffe222222');
const TRV = device('Office Radiator', EUROTRONIC_TRV, '0x0015bc0033333333');
const BLIND = device('Living Blind', IKEA_BLIND, '0x000b57fffe444444');
const DOOR = device('hall/door', AQARA_DOOR, '0x00158d0005555555');
const ALL = [COORDINATOR, LAMP, PLUG, WALL, REMOTE, TRV, BLIND, DOOR];

let h: TestHub;
let z: FakeZigbee2Mqtt;
const cap = capturingLogger('warn');
const reg = () => h.hub.registry;
const api = (path: string, body?: unknown) =>
  fetch(`${h.hub.api!.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

before(async () => {
  h = await startHub(
    {
      zigbee2mqtt: { enabled: true, get_after_ms: 200 },
      http: { enabled: true, port: 0 },
      actions: { confirm_timeout_ms: 400 },
    },
    undefined,
    cap.log,
  );
  z = await FakeZigbee2Mqtt.start(h.url);
  for (const [name, s] of [
    ['Kitchen Lamp', { state: 'OFF', brightness: 100, color_temp: 300, linkquality: 80 }],
    ['Kitchen Plug', { state: 'ON', power: 12.5, voltage: 231, current: 0.06, energy: 3.21 }],
    ['Hall Switch', { state_left: 'OFF', state_right: 'ON', power: 0, energy: 0.5 }],
    ['Living Blind', { position: 100, battery: 90 }],
  ] as const)
    z.state.set(name, { ...s });
  await z.devices(ALL);
  await waitFor(
    () => !!reg().get('sensor.hall_door_contact') || !!reg().get('binary_sensor.hall_door_contact'),
    5000,
    'the devices',
  );
});
after(async () => {
  z.end();
  await h.stop();
  removeDir(h.dir);
});

test('exposes become one entity per feature and endpoint (zigbee-herdsman-converters shapes)', () => {
  const domains = (d: { exposes: unknown[] }) =>
    entitiesOf(d.exposes as never).map(
      (e) => `${e.domain}${e.suffix ? `:${e.suffix}` : ''}${e.category ? `(${e.category})` : ''}`,
    );
  assert.deepEqual(domains(INNR_PLUG), [
    'switch',
    'sensor:power',
    'sensor:voltage',
    'sensor:current',
    'sensor:energy',
    'sensor:linkquality(diagnostic)',
  ]);
  assert.deepEqual(domains(AQARA_TWO_GANG).slice(0, 2), ['switch:left', 'switch:right']);
  assert.ok(domains(AQARA_TWO_GANG).includes('event:action'), 'the action is an event, not a diagnostic');
  assert.deepEqual(domains(EUROTRONIC_TRV).slice(0, 3), ['sensor:battery(diagnostic)', 'switch:child_lock', 'climate']);
  assert.equal(domains(IKEA_BLIND)[0], 'cover');
  assert.equal(domains(AQARA_DOOR)[1], 'binary_sensor:contact');
  assert.deepEqual(domains(IKEA_BULB), ['light', 'select:identify(config)', 'sensor:linkquality(diagnostic)']);
});

test('a plug is a switch with power (W), energy (kWh), voltage (V) and current (A) sensors on one device', async () => {
  await z.report('Kitchen Plug', {});
  await waitFor(() => reg().get('sensor.kitchen_plug_power')?.state === 12.5, 5000, 'the power reading');
  const sw = reg().get('switch.kitchen_plug')!;
  assert.equal(sw.state, 'on');
  assert.equal(sw.deviceId, 'zigbee2mqtt:0x000d6f000aaaaaaa');
  const units = ['power', 'energy', 'voltage', 'current'].map(
    (p) => reg().get(`sensor.kitchen_plug_${p}`)!.attributes.unit_of_measurement,
  );
  assert.deepEqual(units, ['W', 'kWh', 'V', 'A']);
  assert.equal(reg().get('sensor.kitchen_plug_energy')!.attributes.state_class, 'total_increasing');
  assert.equal(
    reg().get('sensor.kitchen_plug_linkquality')?.category,
    'diagnostic',
    'linkquality is health, not a control',
  );
  const metrics = await fetch(`${h.hub.api!.url}/metrics`).then((r) => r.text());
  assert.match(metrics, /^smart_home_entity_state_reports_total [1-9]\d*$/m);
  assert.match(metrics, new RegExp(`^smart_home_entities ${reg().size}$`, 'm'));
  assert.match(metrics, /^smart_home_devices 8$/m, 'seven devices and the bridge');
  const dev = h.hub.devices.get('zigbee2mqtt:0x000d6f000aaaaaaa')!;
  assert.equal(dev.model, 'SP 234');
  assert.equal(dev.manufacturer, 'Innr');
  assert.deepEqual(
    reg()
      .ofDevice(dev.id)
      .map((e) => e.id),
    [
      'sensor.kitchen_plug_current',
      'sensor.kitchen_plug_energy',
      'sensor.kitchen_plug_linkquality',
      'sensor.kitchen_plug_power',
      'sensor.kitchen_plug_voltage',
      'switch.kitchen_plug',
    ],
  );
});

test('turn_on resolves when the light reports the new state; brightness 0–255 is sent as the device’s 0–254', async () => {
  await h.hub.entities.callAction('light.kitchen_lamp', 'turn_on', { brightness: 255, color_temp: 350 }, 'test');
  assert.deepEqual(z.sets.at(-1), { name: 'Kitchen Lamp', payload: { state: 'ON', brightness: 254, color_temp: 350 } });
  const lamp = reg().get('light.kitchen_lamp')!;
  assert.equal(lamp.state, 'on', 'already confirmed when the call resolved');
  assert.equal(lamp.attributes.brightness, 255);
  assert.equal(lamp.attributes.min_mireds, 250);
  // a brightness change while on is no state change, but the UI must hear of it
  const seen: unknown[] = [];
  const off = h.hub.events.on('entity.attributesChanged', (e) => {
    if (e.entityId === 'light.kitchen_lamp') seen.push(e.attributes.brightness);
  });
  await h.hub.entities.callAction('light.kitchen_lamp', 'turn_on', { brightness: 102 }, 'test');
  off();
  assert.deepEqual(seen, [102]);
  // the CLI's short form waits too
  const r = await runCli(['action', 'light.kitchen_lamp', 'off', '--url', h.hub.api!.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(reg().get('light.kitchen_lamp')!.state, 'off');
});

test('a value outside the device’s range is refused, naming entity, parameter and range; nothing is sent', async () => {
  const sent = z.sets.length;
  await assert.rejects(h.hub.entities.callAction('light.kitchen_lamp', 'turn_on', { color_temp: 100 }, 'test'), {
    name: 'RangeError',
    message: 'light.kitchen_lamp: color_temp 100 is out of range (250–454 mired)',
  });
  const res = await api('/api/entities/climate.office_radiator/actions/set_temperature', {
    params: { temperature: 31 },
  });
  assert.equal(res.status, 400);
  assert.match(
    ((await res.json()) as { error: { message: string } }).error.message,
    /climate\.office_radiator: temperature 31 is out of range \(5–30 °C\)/,
  );
  const bad = await api('/api/entities/light.kitchen_lamp/actions/turn_on', { params: { colour: 'red' } });
  assert.match(
    ((await bad.json()) as { error: { message: string } }).error.message,
    /has no parameter "colour"; it takes brightness, color_temp/,
  );
  assert.equal(z.sets.length, sent);
});

test('in a script: Entity.get gives state and attributes; a value out of range is a RangeError; an awaited action is confirmed', async () => {
  const s = await h.hub.scripts.load(
    '/scripts/lamp.js',
    {},
    `
    const lamp = Entity.get('light.kitchen_lamp');
    console.log(lamp.domain + ' ' + lamp.attributes.min_mireds + '-' + lamp.attributes.max_mireds);
    Entity.callAction('light.kitchen_lamp', 'turn_on', { color_temp: 100 }).catch((e) => {
      console.log([e instanceof RangeError, e.code, e.message].join(' | '));
    });
    (async () => {
      await Entity.callAction('light.kitchen_lamp', 'turn_on', { brightness: 51 });
      console.log('confirmed ' + Entity.getState('light.kitchen_lamp') + ' ' + Entity.get('light.kitchen_lamp').attributes.brightness);
    })();
  `,
  );
  await waitFor(() => s.logs.length >= 3, 5000, 'the script’s lines');
  assert.deepEqual(
    s.logs.map((l) => l.message),
    [
      'light 250-454',
      'true | BAD_PARAM | light.kitchen_lamp: color_temp 100 is out of range (250–454 mired)',
      'confirmed on 51',
    ],
  );
  assert.deepEqual(z.sets.at(-1)!.payload, { state: 'ON', brightness: 51 });
});

test('what was asked of an entity: its actions with who asked, and scripts’ publishes to its device’s set topic with file:line', async () => {
  await h.hub.scripts.load(
    '/scripts/direct.js',
    {},
    `\nMqtt.publish('zigbee2mqtt/Kitchen Lamp/set', { state: 'OFF' }, 1, false);`,
  );
  await waitFor(() => reg().get('light.kitchen_lamp')!.state === 'off', 5000, 'the echo of the direct publish');
  const res = await api('/api/entities/light.kitchen_lamp/actions');
  const marks = ((await res.json()) as { data: { action: string; caller: string; result: string }[] }).data;
  assert.ok(
    marks.some((m) => m.action === 'turn_on' && m.caller === 'test' && m.result === 'ok'),
    JSON.stringify(marks),
  );
  assert.ok(
    marks.some((m) => m.action === 'turn_on' && m.result === 'BAD_PARAM'),
    'a refused action is marked too',
  );
  assert.ok(
    marks.some((m) => m.action === 'publish to zigbee2mqtt/Kitchen Lamp/set' && /direct\.js:2$/.test(m.caller)),
    JSON.stringify(marks),
  );
  assert.ok(
    !marks.some((m) => m.caller.startsWith('entity ')),
    'the integration’s own publishes are the actions, not twice',
  );
});

test('an action the device does not confirm fails with TIMEOUT; Zigbee2MQTT’s error log fails it with the device’s error', async () => {
  z.silent.add('Kitchen Plug');
  await assert.rejects(h.hub.entities.callAction('switch.kitchen_plug', 'turn_off', {}, 'test'), {
    code: 'TIMEOUT',
    message: /switch\.kitchen_plug did not confirm turn_off within 0\.4 s \(it reports "on"\)/,
  });
  z.silent.delete('Kitchen Plug');
  z.failing.set('Kitchen Plug', 'Error: Timeout - 4660 - 1 - 12 - 6 - 11 after 10000ms');
  await assert.rejects(h.hub.entities.callAction('switch.kitchen_plug', 'turn_off', {}, 'test'), {
    code: 'DEVICE_ERROR',
    message: /Zigbee2MQTT: Publish 'set' 'state' to 'Kitchen Plug' failed: 'Error: Timeout/,
  });
  z.failing.delete('Kitchen Plug');
  await h.hub.entities.callAction('switch.kitchen_plug', 'toggle', {}, 'test');
  assert.equal(reg().get('switch.kitchen_plug')!.state, 'off');
});

test('a two-gang wall switch is two switches; a remote’s presses are one event each, never an empty action', async () => {
  await h.hub.entities.callAction('switch.hall_switch_left', 'turn_on', {}, 'test');
  assert.deepEqual(z.sets.at(-1)!.payload, { state_left: 'ON' });
  assert.equal(reg().get('switch.hall_switch_right')!.state, 'on');
  const ev = reg().get('event.hall_switch_action')!;
  assert.deepEqual((ev.attributes.event_types as string[]).slice(0, 3), ['single_left', 'single_right', 'single_both']);
  const seen: unknown[] = [];
  const off = h.hub.events.on('entity.stateChanged', (e) => {
    if (e.entityId === 'event.hall_switch_action') seen.push(e.attributes.event_type);
  });
  await z.publish('Hall Switch', { action: '', state_left: 'ON' }); // Zigbee2MQTT's legacy empty action
  await z.publish('Hall Switch', { action: 'single_right', state_left: 'ON' });
  await waitFor(() => seen.length >= 1, 5000, 'the press');
  await z.report('Kitchen Plug', { power: 1 }); // a later message: once it is in, so was anything before it
  await waitFor(() => reg().get('sensor.kitchen_plug_power')!.state === 1);
  off();
  assert.deepEqual(seen, ['single_right']);
});

test('a radiator valve is a climate: target and current temperature, hvac mode, confirmed set_temperature', async () => {
  await z.report('Office Radiator', {
    occupied_heating_setpoint: 20,
    local_temperature: 18.5,
    system_mode: 'heat',
    running_state: 'heat',
  });
  await waitFor(() => reg().get('climate.office_radiator')?.state === 'heat', 5000, 'the valve');
  const c = reg().get('climate.office_radiator')!;
  assert.equal(c.attributes.current_temperature, 18.5);
  assert.equal(c.attributes.hvac_action, 'heating');
  assert.deepEqual(c.attributes.hvac_modes, ['off', 'auto', 'heat']);
  await h.hub.entities.callAction('climate.office_radiator', 'set_temperature', { temperature: 21.5 }, 'test');
  assert.deepEqual(z.sets.at(-1)!.payload, { occupied_heating_setpoint: 21.5 });
  assert.equal(reg().get('climate.office_radiator')!.attributes.temperature, 21.5);
  await h.hub.entities.callAction('climate.office_radiator', 'set_hvac_mode', { hvac_mode: 'off' }, 'test');
  assert.equal(reg().get('climate.office_radiator')!.state, 'off');
});

test('a blind is a cover with a position; a door contact is a binary_sensor of class door (on = open)', async () => {
  await h.hub.entities.callAction('cover.living_blind', 'set_position', { position: 40 }, 'test');
  assert.deepEqual(z.sets.at(-1)!.payload, { position: 40 });
  assert.equal(reg().get('cover.living_blind')!.attributes.position, 40);
  assert.equal(reg().get('cover.living_blind')!.state, 'open');
  await z.report('hall/door', { contact: false, battery: 97 });
  await waitFor(() => reg().get('binary_sensor.hall_door_contact')?.state === 'on', 5000, 'the open door');
  assert.equal(reg().get('binary_sensor.hall_door_contact')!.attributes.device_class, 'door');
  await z.report('hall/door', { contact: true });
  await waitFor(() => reg().get('binary_sensor.hall_door_contact')?.state === 'off', 5000, 'the closed door');
});

test('bad device input: "n/a" for a number, malformed JSON, 1 MB: logged with topic and reason, last good state kept, the entity marked, others go on', async () => {
  await z.report('hall/door', { device_temperature: 22 });
  await waitFor(() => reg().get('sensor.hall_door_device_temperature')?.state === 22);
  await z.publish('hall/door', { device_temperature: 'n/a' });
  await waitFor(
    () => typeof reg().get('sensor.hall_door_device_temperature')!.attributes.problem === 'string',
    5000,
    'the mark',
  );
  assert.equal(reg().get('sensor.hall_door_device_temperature')!.state, 22);
  assert.match(
    String(reg().get('sensor.hall_door_device_temperature')!.attributes.problem),
    /must be a number, got "n\/a"/,
  );
  await z.publish('Kitchen Plug', '{"power": 5, oops');
  const mb = '{"power": "' + 'x'.repeat(1_000_000 - 13) + '"}'; // 1 MB: under the broker's 1 MiB packet limit
  await z.publish('Kitchen Plug', mb);
  await z.report('Living Blind', { battery: 88 });
  await waitFor(
    () => reg().get('sensor.living_blind_battery')?.state === 88,
    5000,
    'another device after the bad ones',
  );
  assert.equal(reg().get('sensor.kitchen_plug_power')!.state, 1);
  assert.match(String(reg().get('sensor.kitchen_plug_power')!.attributes.problem), /malformed JSON|bytes is more than/);
  const lines = cap.lines.filter((l) => /zigbee2mqtt (message|value) ignored/.test(String(l.msg)));
  assert.ok(
    lines.some((l) => l.topic === 'zigbee2mqtt/Kitchen Plug' && /malformed JSON/.test(String(l.msg))),
    JSON.stringify(lines),
  );
  assert.ok(
    lines.some((l) => /1000000 bytes is more than the 65536/.test(String(l.msg))),
    JSON.stringify(lines),
  );
  assert.ok(lines.some((l) => l.topic === 'zigbee2mqtt/hall/door' && /n\/a/.test(String(l.msg))));
  await z.report('hall/door', { device_temperature: 23 });
  await waitFor(() => reg().get('sensor.hall_door_device_temperature')?.state === 23);
  assert.equal(
    reg().get('sensor.hall_door_device_temperature')!.attributes.problem,
    null,
    'a good value clears the mark',
  );
});

test('availability: a device offline on its own; Zigbee2MQTT gone (its will) makes all unavailable and refuses commands', async () => {
  await z.publish('Living Blind/availability', '{"state":"offline"}');
  await waitFor(() => reg().get('cover.living_blind')?.available === false, 5000, 'the blind offline');
  assert.equal(reg().get('sensor.living_blind_battery')!.available, false, 'every entity of the device');
  await assert.rejects(h.hub.entities.callAction('cover.living_blind', 'open', {}, 'test'), { code: 'UNAVAILABLE' });
  z.crash(); // the broker publishes Zigbee2MQTT's will: bridge/state {"state":"offline"}
  await waitFor(() => reg().get('switch.kitchen_plug')?.available === false, 5000, 'all offline');
  await assert.rejects(h.hub.entities.callAction('switch.kitchen_plug', 'turn_on', {}, 'test'), {
    code: 'UNAVAILABLE',
  });
  await z.reconnect(); // bridge/state {"state":"online"}
  await waitFor(() => reg().get('switch.kitchen_plug')?.available === true, 5000, 'back');
  assert.equal(reg().get('cover.living_blind')!.available, false, 'the blind keeps its own offline');
  await z.publish('Living Blind/availability', 'online');
  await waitFor(() => reg().get('cover.living_blind')?.available === true, 5000, 'the blind back');
});

test('bridge/groups become group entities commanded on the group topic', async () => {
  await z.publish(
    'bridge/groups',
    [
      {
        id: 3,
        friendly_name: 'Kitchen Lights',
        members: [{ ieee_address: LAMP.ieee_address, endpoint: 1 }],
        scenes: [],
      },
    ],
    true,
  );
  await waitFor(() => !!reg().get('light.kitchen_lights'), 5000, 'the group');
  assert.equal(reg().get('light.kitchen_lights')!.deviceId, 'zigbee2mqtt:group:3');
  await h.hub.entities.callAction('light.kitchen_lights', 'turn_on', { brightness: 128 }, 'test');
  assert.deepEqual(z.sets.at(-1), { name: 'Kitchen Lights', payload: { state: 'ON', brightness: 127 } });
  await z.publish('bridge/groups', [], true);
  await waitFor(() => !reg().get('light.kitchen_lights'), 5000, 'the group gone');
});

test('permit_join, rename and remove go to Zigbee2MQTT and report its answer', async () => {
  const ok = await api('/api/integrations/zigbee2mqtt/permit_join', { params: { time: 120 } });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.deepEqual(z.requests.at(-1)!.payload.time, 120);
  z.answers.set('device/rename', (p) => ({
    status: 'error',
    error: `friendly_name '${String(p.to)}' is already in use`,
  }));
  const r = await runCli([
    'integration',
    'zigbee2mqtt',
    'rename',
    '--param',
    'from=switch.kitchen_plug',
    '--param',
    'to=Hall Switch',
    '--url',
    h.hub.api!.url,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Zigbee2MQTT: friendly_name 'Hall Switch' is already in use/);
  assert.equal(z.requests.at(-1)!.payload.from, 'Kitchen Plug', 'an entity id is turned into its device’s name');
  const bad = await api('/api/integrations/zigbee2mqtt/permit_join', { params: { time: 999 } });
  assert.equal(bad.status, 400);
});

test('a renamed device keeps its entities; a removed one loses them and its device', async () => {
  const renamed = ALL.map((d) => (d === PLUG ? { ...PLUG, friendly_name: 'Pantry Plug' } : d));
  await z.devices(renamed);
  await waitFor(() => reg().get('switch.kitchen_plug')?.name === 'Pantry Plug', 5000, 'the rename');
  assert.equal(reg().get('sensor.kitchen_plug_power')!.name, 'Pantry Plug Power');
  assert.ok(!reg().get('switch.pantry_plug'));
  z.state.set('Pantry Plug', { state: 'ON' });
  await h.hub.entities.callAction('switch.kitchen_plug', 'turn_off', {}, 'test');
  assert.equal(z.sets.at(-1)!.name, 'Pantry Plug');
  await z.devices(renamed.filter((d) => d !== DOOR));
  await waitFor(() => !reg().get('binary_sensor.hall_door_contact'), 5000, 'the removal');
  assert.equal(h.hub.devices.get(`zigbee2mqtt:${DOOR.ieee_address}`), undefined);
  assert.ok(reg().get('switch.kitchen_plug'));
});

test('devices with no state since start are asked with /get', async () => {
  // the remote and the radiator reported nothing before the device list; the remote answers no gets
  await z.until(() => z.gets.some((g) => g.name === 'Hall Switch' || g.name === 'Kitchen Lamp'), 'a /get');
  assert.ok(!z.gets.some((g) => g.name === 'Bedroom Remote'), 'a remote cannot be asked');
});

test('restart without the devices present: entities, devices and state routing come back from SQLite; a retained press is not replayed', async () => {
  await z.publish('Hall Switch', { action: 'double_left', state_left: 'ON' }, true); // retained, with an action
  await waitFor(
    () => reg().get('event.hall_switch_action')!.attributes.event_type === 'double_left',
    5000,
    'the live press',
  );
  const pressed = reg().get('event.hall_switch_action')!.state;
  z.end();
  await h.stop();
  h = await startHub(
    {
      zigbee2mqtt: { enabled: true, get_after_ms: 60_000 },
      http: { enabled: true, port: 0 },
      actions: { confirm_timeout_ms: 400 },
    },
    h.dir,
  );
  assert.equal(reg().get('switch.kitchen_plug')!.name, 'Pantry Plug');
  assert.equal(h.hub.devices.get(`zigbee2mqtt:${PLUG.ieee_address}`)!.model, 'SP 234');
  z = await FakeZigbee2Mqtt.start(h.url);
  await z.publish('Pantry Plug', { state: 'ON', power: 42 });
  await waitFor(() => reg().get('sensor.kitchen_plug_power')?.state === 42, 5000, 'state before any device list');
  // the retained message came again with the new subscription: the switch state is read, the press is not an event
  await waitFor(
    () => reg().get('switch.hall_switch_left')!.lastUpdated! > reg().get('event.hall_switch_action')!.lastUpdated!,
    5000,
    'the retained state',
  );
  assert.equal(reg().get('event.hall_switch_action')!.state, pressed);
  await z.publish('Hall Switch', '', true);
});

test('an entity of the one-entity-per-device model keeps its id when its device is seen again', async () => {
  const legacy = device('Old Lamp', IKEA_BULB, '0x0000000000000abc');
  reg().upsert({
    id: 'light.my_old_lamp',
    uniqueId: legacy.ieee_address,
    source: 'zigbee2mqtt',
    domain: 'light',
    actions: ['on', 'off'],
  });
  reg().setState('light.my_old_lamp', { state: 'ON', brightness: 3 });
  await z.devices([...ALL.filter((d) => d !== DOOR), legacy]);
  await waitFor(() => reg().get('light.my_old_lamp')?.uniqueId === '0x0000000000000abc:light', 5000, 'the takeover');
  assert.equal(reg().get('light.my_old_lamp')!.state, null, 'the old JSON blob is not a light state');
  assert.ok(!reg().get('light.old_lamp'));
});
