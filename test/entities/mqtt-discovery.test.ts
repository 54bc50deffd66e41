// Home Assistant MQTT discovery: the template subset, an ESPHome node (test/fixtures/fake-esphome.ts),
// Zigbee2MQTT's own discovery payloads (lib/extension/homeassistant.ts: availability list with
// mode "all" and value_template, value_template per sensor, device with via_device), device-based
// configs with `cmps`, removal, updates, components the hub does not map, bad input, and configs
// kept when the broker loses them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { capturingLogger, connect, collect, removeDir, startHub, waitFor, type TestHub } from '../helpers.js';
import { compileTemplate, payloadVars, TemplateError, TemplateUnsupported } from '../../src/templates/jinja.js';
import { FakeEsphome, MAC } from '../fixtures/fake-esphome.js';
import { openStore } from '../../src/store/db.js';
import type { MqttClient } from 'mqtt';

const render = (src: string, payload: string) => compileTemplate(src).render(payloadVars(payload));

test('templates: the subset real devices use, evaluated without running code', () => {
  assert.equal(render('{{ value_json.temperature }}', '{"temperature": 21.5}'), 21.5);
  assert.equal(render("{{ value_json['power'] | float | round(1) }}", '{"power": "12.345"}'), 12.3);
  assert.equal(render('{{ value_json.state | lower }}', '{"state": "ON"}'), 'on');
  assert.equal(render('{{ value | int }}', '42.9'), 42);
  assert.equal(render("{{ value_json.missing | default('none') }}", '{}'), 'none');
  assert.equal(render('{{ value_json.a.b | tojson }}', '{"a": {"b": [1, 2]}}'), '[1,2]');
  assert.equal(render("{{ value_json.on | iif('ON', 'OFF') }}", '{"on": false}'), 'OFF');
  assert.equal(render("{{ 'ON' if value_json.contact == false else 'OFF' }}", '{"contact": false}'), 'ON');
  assert.equal(
    render('{% if value_json.x > 3 %}big{% elif value_json.x > 1 %}mid{% else %}small{% endif %}', '{"x": 2}'),
    'mid',
  );
  assert.equal(render('{{ value_json.state is defined }}', '{"state": 1}'), true);
  assert.equal(render('{{ value_json.RESULT.POWER }}', '{"RESULT": {"POWER": "ON"}}'), 'ON');
  assert.equal(render('{{ value_json.constructor }}', '{}'), '', 'no reaching into the host’s objects');
  assert.throws(() => render('{{ value_json.t | float }}', '{"t": "n/a"}'), TemplateError);
  assert.throws(() => render('{{ value_json.t | is_defined }}', '{}'), TemplateError);
  for (const outside of [
    "{{ states('sensor.x') }}",
    '{% for x in y %}{% endfor %}',
    '{{ value | regex_replace("a", "b") }}',
    '{{ value.__class__ }}x{{',
  ])
    assert.throws(() => compileTemplate(outside), TemplateUnsupported, outside);
});

let h: TestHub;
let esp: FakeEsphome;
let c: MqttClient;
const cap = capturingLogger('info');
const reg = () => h.hub.registry;
const retain = (topic: string, payload: unknown) =>
  c.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain: true });
const status = () => h.hub.integrations.get('mqtt')!.status!() as Record<string, { topic: string; reason?: string }[]>;

before(async () => {
  h = await startHub({ discovery: { enabled: true }, actions: { confirm_timeout_ms: 400 } }, undefined, cap.log);
  c = await connect(h.url);
  esp = await FakeEsphome.start(h.url);
  await waitFor(() => !!reg().get('light.garage_lamp'), 5000, 'the ESPHome entities');
});
after(async () => {
  esp.crash();
  await h.stop();
  removeDir(h.dir);
});

test('the hub announces itself: homeassistant/status online, retained', async () => {
  const w = await connect(h.url);
  const got = collect(w);
  await w.subscribeAsync('homeassistant/status');
  const [m] = await got.next(1);
  assert.deepEqual([m!.payload.toString(), m!.retain], ['online', true]);
  w.end();
});

test('an ESPHome node: device from `dev`, a switch confirmed by its state topic, a sensor with unit, availability', async () => {
  const dev = h.hub.devices.get(`mqtt:${MAC}`)!;
  assert.deepEqual([dev.name, dev.manufacturer, dev.model, dev.area], ['Garage', 'espressif', 'esp32dev', 'Garage']);
  assert.match(dev.swVersion!, /^esphome v2025/);
  const sw = reg().get('switch.garage_relay')!;
  assert.equal(sw.uniqueId, 'mqtt:ESPswitchrelay');
  assert.equal(sw.deviceId, `mqtt:${MAC}`);
  await waitFor(() => reg().get('switch.garage_relay')!.available, 5000, 'online from garage/status');
  await h.hub.entities.callAction('switch.garage_relay', 'turn_on', {}, 'test');
  assert.deepEqual(esp.commands.at(-1), { topic: 'garage/switch/relay/command', payload: 'ON' });
  assert.equal(reg().get('switch.garage_relay')!.state, 'on');
  await esp.publish('sensor/temperature/state', '21.50');
  await waitFor(() => reg().get('sensor.garage_temperature')?.state === 21.5, 5000, 'the temperature');
  assert.equal(reg().get('sensor.garage_temperature')!.attributes.unit_of_measurement, '°C');
  await esp.publish('sensor/temperature/state', 'nan'); // ESPHome: no value yet
  await waitFor(() => reg().get('sensor.garage_temperature')?.state === null, 5000, 'unknown');
  esp.silent.add('relay');
  await assert.rejects(h.hub.entities.callAction('switch.garage_relay', 'turn_off', {}, 'test'), { code: 'TIMEOUT' });
  esp.silent.delete('relay');
});

test('an ESPHome JSON light: turn_on with brightness sends the JSON command and confirms on the state', async () => {
  await h.hub.entities.callAction('light.garage_lamp', 'turn_on', { brightness: 128 }, 'test');
  assert.deepEqual(JSON.parse(esp.commands.at(-1)!.payload), { state: 'ON', brightness: 128 });
  const lamp = reg().get('light.garage_lamp')!;
  assert.equal(lamp.state, 'on');
  assert.equal(lamp.attributes.brightness, 128);
  await assert.rejects(h.hub.entities.callAction('light.garage_lamp', 'turn_on', { brightness: 300 }, 'test'), {
    name: 'RangeError',
    message: 'light.garage_lamp: brightness 300 is out of range (0–255)',
  });
});

// Zigbee2MQTT's own discovery payload for a temperature sensor (lib/extension/homeassistant.ts), written out in full
const Z2M_SENSOR = {
  availability: [
    { topic: 'zigbee2mqtt/bridge/state', value_template: '{{ value_json.state }}' },
    { topic: 'zigbee2mqtt/Attic Sensor/availability', value_template: '{{ value_json.state }}' },
  ],
  availability_mode: 'all',
  device: {
    identifiers: ['zigbee2mqtt_0x00158d0001234567'],
    manufacturer: 'Aqara',
    model: 'Temperature and humidity sensor (WSDCGQ11LM)',
    name: 'Attic Sensor',
    via_device: 'zigbee2mqtt_bridge_0x00124b0000000000',
  },
  origin: { name: 'Zigbee2MQTT', sw: '2.5.1', url: 'https://www.zigbee2mqtt.io' },
  object_id: 'attic_sensor_temperature',
  default_entity_id: 'sensor.attic_sensor_temperature',
  unique_id: '0x00158d0001234567_temperature_zigbee2mqtt',
  state_topic: 'zigbee2mqtt/Attic Sensor',
  value_template: '{{ value_json.temperature }}',
  unit_of_measurement: '°C',
  device_class: 'temperature',
  state_class: 'measurement',
  enabled_by_default: true,
};

test('Zigbee2MQTT’s discovery payload: availability list (mode all, templates), value_template, via_device', async () => {
  await retain('homeassistant/sensor/0x00158d0001234567/temperature/config', Z2M_SENSOR);
  await waitFor(() => !!reg().get('sensor.attic_sensor_temperature'), 5000, 'the sensor');
  const e = reg().get('sensor.attic_sensor_temperature')!;
  assert.equal(e.available, false, 'unavailable until its availability topics say otherwise');
  assert.equal(
    h.hub.devices.get('mqtt:zigbee2mqtt_0x00158d0001234567')!.via,
    'mqtt:zigbee2mqtt_bridge_0x00124b0000000000',
  );
  await retain('zigbee2mqtt/bridge/state', { state: 'online' });
  await retain('zigbee2mqtt/Attic Sensor/availability', { state: 'online' });
  await waitFor(() => reg().get('sensor.attic_sensor_temperature')!.available, 5000, 'all available');
  await c.publishAsync('zigbee2mqtt/Attic Sensor', JSON.stringify({ temperature: 4.5, humidity: 80, linkquality: 40 }));
  await waitFor(() => reg().get('sensor.attic_sensor_temperature')!.state === 4.5, 5000, 'the value');
  await retain('zigbee2mqtt/Attic Sensor/availability', { state: 'offline' });
  await waitFor(
    () => !reg().get('sensor.attic_sensor_temperature')!.available,
    5000,
    'mode all: one offline is enough',
  );
});

test('a changed config with the same unique_id updates its entity; an empty retained config removes it', async () => {
  await retain('homeassistant/sensor/0x00158d0001234567/temperature/config', {
    ...Z2M_SENSOR,
    unit_of_measurement: '°F',
    name: 'Attic',
  });
  await waitFor(
    () => reg().get('sensor.attic_sensor_temperature')?.attributes.unit_of_measurement === '°F',
    5000,
    'the update',
  );
  assert.equal(
    reg()
      .list()
      .filter((e) => e.uniqueId === 'mqtt:0x00158d0001234567_temperature_zigbee2mqtt').length,
    1,
  );
  await retain('homeassistant/sensor/0x00158d0001234567/temperature/config', '');
  await waitFor(() => !reg().get('sensor.attic_sensor_temperature'), 5000, 'the removal');
  assert.equal(
    h.hub.devices.get('mqtt:zigbee2mqtt_0x00158d0001234567'),
    undefined,
    'its device went with its last entity',
  );
});

test('a device-based config (cmps) with shared keys and ~; a component left with only its platform is removed', async () => {
  const topic = 'homeassistant/device/shelly-plug-1/config';
  const config = {
    dev: { ids: 'shellyplus1pm-aabbcc', name: 'Desk Plug', mf: 'Shelly', mdl: 'Plus 1PM' },
    o: { name: 'shelly-bridge' },
    '~': 'shellies/desk',
    avty_t: '~/online',
    pl_avail: 'true',
    pl_not_avail: 'false',
    cmps: {
      relay: {
        p: 'switch',
        uniq_id: 'desk-relay',
        name: 'Relay',
        stat_t: '~/relay/0',
        cmd_t: '~/relay/0/command',
        pl_on: 'on',
        pl_off: 'off',
      },
      power: {
        p: 'sensor',
        uniq_id: 'desk-power',
        name: 'Power',
        stat_t: '~/relay/0/power',
        unit_of_meas: 'W',
        dev_cla: 'power',
      },
    },
  };
  await retain(topic, config);
  await waitFor(
    () => !!reg().get('sensor.desk_plug_power') && !!reg().get('switch.desk_plug_relay'),
    5000,
    'both components',
  );
  await retain('shellies/desk/online', 'true');
  await c.publishAsync('shellies/desk/relay/0/power', '36.2');
  await waitFor(
    () => reg().get('sensor.desk_plug_power')!.state === 36.2 && reg().get('sensor.desk_plug_power')!.available,
    5000,
    'the power',
  );
  const cmd = collect(c);
  await c.subscribeAsync('shellies/desk/relay/0/command');
  const done = h.hub.entities.callAction('switch.desk_plug_relay', 'turn_on', {}, 'test');
  await cmd.next(1);
  assert.equal(cmd.messages[0]!.payload.toString(), 'on');
  await c.publishAsync('shellies/desk/relay/0', 'on');
  await done;
  await retain(topic, { ...config, cmps: { ...config.cmps, power: { p: 'sensor' } } });
  await waitFor(() => !reg().get('sensor.desk_plug_power'), 5000, 'the power component gone');
  assert.ok(reg().get('switch.desk_plug_relay'));
  await retain(topic, '');
  await waitFor(() => !reg().get('switch.desk_plug_relay'), 5000, 'the device gone');
});

test('components the hub does not map are listed as discovered, not supported; a template outside the subset is a visible warning', async () => {
  await retain('homeassistant/alarm_control_panel/house/alarm/config', {
    name: 'Alarm',
    stat_t: 'house/alarm',
    cmd_t: 'house/alarm/set',
    uniq_id: 'alarm1',
  });
  await retain('homeassistant/sensor/weird/value/config', {
    name: 'Weird',
    uniq_id: 'weird-1',
    stat_t: 'weird/state',
    val_tpl: "{{ states('sensor.other') | float }}",
  });
  await waitFor(
    () =>
      status().unsupported?.some((u) => u.topic === 'homeassistant/alarm_control_panel/house/alarm/config') ?? false,
    5000,
    'the listing',
  );
  await waitFor(() => !!reg().get('sensor.weird'), 5000, 'the weird sensor');
  assert.match(
    String(reg().get('sensor.weird')!.attributes.warning),
    /value_template is outside the template subset \(the function "states"/,
  );
  assert.ok(status().warnings!.some((w) => w.topic === 'homeassistant/sensor/weird/value/config'));
});

test('bad input: malformed config, a sensor without state topic, a template that throws, 1 MB on a state topic — logged, last good state kept, the rest goes on', async () => {
  await retain('homeassistant/sensor/bad/json/config', '{"name": "x", oops');
  await retain('homeassistant/sensor/bad/nostate/config', { name: 'No state', uniq_id: 'nostate' });
  await retain('homeassistant/sensor/bad/tpl/config', {
    name: 'Tpl',
    uniq_id: 'tpl',
    stat_t: 'bad/tpl',
    val_tpl: '{{ value_json.t | float }}',
    unit_of_meas: '°C',
  });
  await waitFor(() => !!reg().get('sensor.tpl'), 5000, 'the template sensor');
  await c.publishAsync('bad/tpl', '{"t": 19.5}');
  await waitFor(() => reg().get('sensor.tpl')!.state === 19.5, 5000, 'a good value');
  await c.publishAsync('bad/tpl', '{"t": "n/a"}');
  await c.publishAsync('bad/tpl', `{"t": "${'x'.repeat(1_000_000 - 9)}"}`);
  // another device's topic, from the same client: once it is applied, so were the bad ones before it
  await c.publishAsync('garage/sensor/temperature/state', '22.00');
  await waitFor(() => reg().get('sensor.garage_temperature')!.state === 22, 5000, 'another device after the bad ones');
  assert.equal(reg().get('sensor.tpl')!.state, 19.5);
  assert.match(String(reg().get('sensor.tpl')!.attributes.problem), /bytes is more than|float: "n\/a" is not a number/);
  assert.ok(
    status().invalid!.some(
      (i) => i.topic === 'homeassistant/sensor/bad/json/config' && /malformed JSON/.test(i.reason!),
    ),
  );
  assert.ok(
    status().invalid!.some(
      (i) => i.topic === 'homeassistant/sensor/bad/nostate/config' && /sensor: it has no state_topic/.test(i.reason!),
    ),
  );
  const warned = cap.lines.map((l) => `${String(l.topic)} ${String(l.msg)}`);
  assert.ok(
    warned.some((l) => l.startsWith('bad/tpl ') && /float: "n\/a" is not a number/.test(l)),
    warned.join('\n'),
  );
  assert.ok(warned.some((l) => l.startsWith('bad/tpl ') && /1000000 bytes is more than the 65536/.test(l)));
  assert.ok(
    warned.some((l) => l.startsWith('homeassistant/sensor/bad/nostate/config ') && /it has no state_topic/.test(l)),
  );
});

test('configs are kept: after a restart on a broker that lost them, the ESPHome entities are still there and work', async () => {
  esp.crash();
  await h.stop();
  const db = openStore(h.dir);
  const gone = db.prepare("DELETE FROM broker_retained WHERE topic LIKE 'homeassistant/%'").run().changes;
  db.close();
  assert.ok(gone >= 3, `the broker forgot ${gone} retained configs`);
  h = await startHub({ discovery: { enabled: true }, actions: { confirm_timeout_ms: 400 } }, h.dir);
  c = await connect(h.url);
  assert.ok(reg().get('switch.garage_relay'), 'the entity is back from SQLite');
  const cmds = collect(c);
  await c.subscribeAsync('garage/switch/relay/command');
  await c.publishAsync('garage/status', 'online', { retain: true });
  await waitFor(() => reg().get('switch.garage_relay')!.available, 5000, 'online');
  const done = h.hub.entities.callAction('switch.garage_relay', 'turn_off', {}, 'test');
  await cmds.next(1);
  await c.publishAsync('garage/switch/relay/state', 'OFF');
  await done;
  assert.equal(reg().get('switch.garage_relay')!.state, 'off');
  esp = { crash: () => c.end(true) } as unknown as FakeEsphome;
});

test('a broker full of configs cannot grow the hub without bound: past discovery.max_entities a config is refused and logged', async () => {
  const log = capturingLogger('warn');
  const small = await startHub({ discovery: { enabled: true, max_entities: 2 } }, undefined, log.log);
  try {
    const p = await connect(small.url);
    for (const n of [1, 2, 3])
      await p.publishAsync(
        `homeassistant/sensor/flood/s${n}/config`,
        JSON.stringify({ name: `S${n}`, uniq_id: `flood-${n}`, stat_t: `flood/${n}` }),
        { qos: 1, retain: true },
      );
    await log.line((l) => /more than 2 configs are kept already/.test(String(l.msg)), 'the refusal');
    assert.deepEqual(
      small.hub.registry.list().map((e) => e.id),
      ['sensor.s1', 'sensor.s2'],
    );
    p.end();
  } finally {
    await small.stop();
    removeDir(small.dir);
  }
});
