// Tasmota's own discovery with fake Tasmota devices (test/fixtures/fake-tasmota.ts, formats from
// xdrv_12_discovery.ino): relays, a CT light, buttons, ENERGY sensors with units, confirmation by
// stat/RESULT, the state asked for at start, LWT availability, bad values, withdrawal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startHub, waitFor, type TestHub } from '../helpers.js';
import { openStore } from '../../src/store/db.js';
import { FakeTasmota } from '../fixtures/fake-tasmota.js';

const ENERGY = {
  ENERGY: {
    TotalStartTime: '2026-01-01T00:00:00',
    Total: 12.345,
    Yesterday: 0.5,
    Today: 0.2,
    Power: 45,
    ApparentPower: 50,
    ReactivePower: 20,
    Factor: 0.9,
    Voltage: 230,
    Current: 0.217,
  },
};

const PLUG = {
  mac: 'A0B1C2ABCDEF',
  topic: 'tasmota_ABCDEF',
  name: 'Kitchen Plug',
  module: 'Sonoff Pow R2',
  relays: [1],
  sensors: ENERGY,
};

let h: TestHub;
let plug: FakeTasmota;
let bulb: FakeTasmota;
let dual: FakeTasmota;
const reg = () => h.hub.registry;

before(async () => {
  h = await startHub({ tasmota: { enabled: true }, actions: { confirm_timeout_ms: 400 } });
  plug = await FakeTasmota.start(h.url, PLUG);
  bulb = await FakeTasmota.start(h.url, {
    mac: 'A0B1C2000001',
    topic: 'bulb1',
    name: 'Desk Bulb',
    module: 'Generic',
    relays: [2],
    lightSubtype: 2,
  });
  dual = await FakeTasmota.start(h.url, {
    mac: 'A0B1C2000002',
    topic: 'dual',
    name: 'Porch',
    module: 'Sonoff Dual R2',
    relays: [1, 1],
    buttons: [1],
  });
  await waitFor(
    () =>
      !!reg().get('switch.porch_2') &&
      !!reg().get('light.desk_bulb') &&
      !!reg().get('sensor.kitchen_plug_energy_power'),
    5000,
    'the devices',
  );
});
after(async () => {
  for (const d of [plug, bulb, dual]) d.crash();
  await h.stop();
  removeDir(h.dir);
});

test('a plug: a switch and its ENERGY sensors with units, its state asked for at start (STATE, STATUS 10)', async () => {
  await waitFor(() => reg().get('sensor.kitchen_plug_energy_power')?.state === 45, 5000, 'the power from STATUS 10');
  assert.ok(plug.commands.some((c) => c.command === 'STATE'));
  assert.ok(plug.commands.some((c) => c.command === 'STATUS' && c.payload === '10'));
  await waitFor(() => reg().get('switch.kitchen_plug')?.state === 'off', 5000, 'the relay from STATE');
  const units = ['Power', 'Voltage', 'Current', 'Total'].map(
    (n) => reg().get(`sensor.kitchen_plug_energy_${n.toLowerCase()}`)!.attributes.unit_of_measurement,
  );
  assert.deepEqual(units, ['W', 'V', 'A', 'kWh']);
  const dev = h.hub.devices.get('tasmota:A0B1C2ABCDEF')!;
  assert.deepEqual([dev.name, dev.model, dev.swVersion], ['Kitchen Plug', 'Sonoff Pow R2', '14.1.0']);
  assert.deepEqual(dev.connections, [['mac', 'a0:b1:c2:ab:cd:ef']]);
});

test('turn_on sends cmnd/<topic>/POWER1 and resolves on stat/<topic>/RESULT; a silent device times out', async () => {
  await h.hub.entities.callAction('switch.kitchen_plug', 'turn_on', {}, 'test');
  assert.deepEqual(plug.commands.at(-1), { command: 'POWER1', payload: 'ON' });
  assert.equal(reg().get('switch.kitchen_plug')!.state, 'on');
  plug.silent = true;
  await assert.rejects(h.hub.entities.callAction('switch.kitchen_plug', 'turn_off', {}, 'test'), { code: 'TIMEOUT' });
  plug.silent = false;
});

test('telemetry updates the sensors; a value that is not a number is refused and the last good one kept', async () => {
  await plug.sensor({ ENERGY: { ...ENERGY.ENERGY, Power: 60 } });
  await waitFor(() => reg().get('sensor.kitchen_plug_energy_power')!.state === 60, 5000, 'the new power');
  await plug.sensor({ ENERGY: { ...ENERGY.ENERGY, Power: 'n/a', Voltage: 229 } });
  await waitFor(() => reg().get('sensor.kitchen_plug_energy_voltage')!.state === 229, 5000, 'the voltage');
  assert.equal(reg().get('sensor.kitchen_plug_energy_power')!.state, 60);
  assert.match(
    String(reg().get('sensor.kitchen_plug_energy_power')!.attributes.problem),
    /ENERGY\.Power must be a number, got "n\/a"/,
  );
});

test('a CT light: brightness as Dimmer 0–100 and color_temp as CT, confirmed by RESULT', async () => {
  await h.hub.entities.callAction('light.desk_bulb', 'turn_on', { brightness: 153, color_temp: 300 }, 'test');
  assert.deepEqual(bulb.commands.slice(-2), [
    { command: 'Dimmer', payload: '60' },
    { command: 'CT', payload: '300' },
  ]);
  const l = reg().get('light.desk_bulb')!;
  assert.deepEqual([l.state, l.attributes.brightness, l.attributes.color_temp], ['on', 153, 300]);
  await h.hub.entities.callAction('light.desk_bulb', 'turn_off', {}, 'test');
  assert.equal(reg().get('light.desk_bulb')!.state, 'off');
});

test('two relays are two switches (POWER1, POWER2); a button is an event', async () => {
  await h.hub.entities.callAction('switch.porch_2', 'turn_on', {}, 'test');
  assert.deepEqual(dual.commands.at(-1), { command: 'POWER2', payload: 'ON' });
  assert.equal(reg().get('switch.porch_1')!.state, 'off');
  await dual.result({ Button1: { Action: 'DOUBLE' } });
  await waitFor(() => reg().get('event.porch_button_1')?.attributes.event_type === 'DOUBLE', 5000, 'the press');
});

test('LWT Offline (the device’s will) makes its entities unavailable; an empty config withdraws the device', async () => {
  dual.crash();
  await waitFor(() => reg().get('switch.porch_1')?.available === false, 5000, 'offline');
  await assert.rejects(h.hub.entities.callAction('switch.porch_1', 'turn_on', {}, 'test'), { code: 'UNAVAILABLE' });
  await bulb.client.publishAsync('tasmota/discovery/A0B1C2000002/config', '', { qos: 1, retain: true });
  await waitFor(() => !reg().get('switch.porch_1'), 5000, 'withdrawn');
  assert.equal(h.hub.devices.get('tasmota:A0B1C2000002'), undefined);
});

test('a shutter relay is listed as discovered, not supported; after a restart on a broker that lost the discovery, the plug still works', async () => {
  const blind = await FakeTasmota.start(h.url, {
    mac: 'A0B1C2000003',
    topic: 'blind',
    name: 'Blind',
    module: 'Shelly 2.5',
    relays: [3, 3],
  });
  await waitFor(
    () => ((h.hub.integrations.get('tasmota')!.status!().unsupported as { component: string }[]) ?? []).length === 2,
    5000,
    'the listing',
  );
  blind.crash();
  plug.crash();
  await h.stop();
  const db = openStore(h.dir);
  db.prepare("DELETE FROM broker_retained WHERE topic LIKE 'tasmota/discovery/%'").run();
  db.close();
  h = await startHub({ tasmota: { enabled: true }, actions: { confirm_timeout_ms: 400 } }, h.dir);
  assert.ok(reg().get('switch.kitchen_plug'), 'back from SQLite');
  assert.equal(reg().get('switch.kitchen_plug')!.state, 'on', 'as the hub last knew it');
  plug = await FakeTasmota.start(h.url, PLUG);
  // it came back (LWT Online): the hub asks for its state instead of trusting what it knew
  await waitFor(() => reg().get('switch.kitchen_plug')!.state === 'off', 5000, 'the fresh state');
  await h.hub.entities.callAction('switch.kitchen_plug', 'toggle', {}, 'test');
  assert.equal(reg().get('switch.kitchen_plug')!.state, 'on');
});
