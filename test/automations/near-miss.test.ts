// "Why didn't it run?": a message on an automation's trigger topic that a filter turned away, a
// state other than the awaited one and a condition that was false are kept as near misses (the
// newest 20 per automation: a flood cannot grow them), with the failing value; runs are kept per
// outcome, so the last failures are never pushed out by successes; an automation_failed system
// trigger tells of another automation's failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../../src/store/db.js';
import { RunTrace } from '../../src/automations/trace.js';
import { collect, connect, removeDir, startHub, tempDir, waitFor } from '../helpers.js';

const YAML = `- id: hall_motion
  triggers:
    - type: mqtt
      topic: zigbee2mqtt/hall_motion
      json: { occupancy: true }
  conditions:
    - type: state
      entity: light.hall
      state: "off"
  actions:
    - type: publish
      topic: test/hall/on
      payload: "on"
- id: door_open
  triggers:
    - type: state
      entity: binary_sensor.door
      to: "on"
  actions:
    - type: publish
      topic: test/door
      payload: "open"
- id: broken
  triggers:
    - type: mqtt
      topic: test/break
  actions:
    - type: script
      code: |
        throw new Error('the bulb is gone');
- id: tell_me
  triggers:
    - type: system
      event: automation_failed
  actions:
    - type: publish
      topic: test/alerts
      payload: "{{ trigger.automation }}: {{ trigger.error }}"
    - type: script
      code: |
        throw new Error('the alert failed too');
`;

test('near misses: a filter, a state and a condition that turned a message away, each with the failing value; a flood keeps only the newest 20', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'automations.yaml'), YAML);
  const h = await startHub({ entities: [{ id: 'light.hall' }, { id: 'binary_sensor.door' }] }, dir);
  try {
    h.hub.entities.setState('light.hall', 'on');
    const c = await connect(h.url);
    const misses = () => h.hub.automations.nearMisses('hall_motion');
    await c.publishAsync('zigbee2mqtt/hall_motion', JSON.stringify({ occupancy: false }), { qos: 1 });
    await c.publishAsync('zigbee2mqtt/hall_motion', 'not json', { qos: 1 });
    await c.publishAsync('zigbee2mqtt/hall_motion', JSON.stringify({ occupancy: true }), { qos: 1 });
    await waitFor(() => misses().length === 3, 5000, 'three near misses');
    assert.deepEqual(
      misses().map((m) => [m.step, m.reason]),
      [
        ['conditions[0]', 'condition 0 (state) false: light.hall is "on"'],
        ['triggers[0]', 'payload "not json" is not JSON (json: wants {"occupancy":true})'],
        ['triggers[0]', 'json occupancy is false, wants true'],
      ],
    );
    h.hub.entities.setState('binary_sensor.door', 'off');
    assert.equal(
      h.hub.automations.nearMisses('door_open')[0]?.reason,
      'binary_sensor.door changed to "off", wants "on"',
    );
    for (let i = 0; i < 1000; i++)
      await c.publishAsync('zigbee2mqtt/hall_motion', JSON.stringify({ occupancy: false, n: i }), { qos: 0 });
    await c.publishAsync('zigbee2mqtt/hall_motion', JSON.stringify({ occupancy: 'yes' }), { qos: 1 });
    await waitFor(() => misses()[0]?.reason === 'json occupancy is "yes", wants true', 10000, 'the last one');
    assert.equal(misses().length, 20, 'a ring of 20');
    // who looked at the topic, and what it last said
    await h.hub.scripts.load(
      path.join(dir, 'watcher.js'),
      {},
      "Mqtt.subscribe('zigbee2mqtt/+', () => {}, { retained: 'ignore' });",
    );
    assert.deepEqual(h.hub.automations.listenersOf('zigbee2mqtt/hall_motion'), [
      {
        automation: 'hall_motion',
        step: 'triggers[0]',
        filter: 'zigbee2mqtt/hall_motion',
        enabled: true,
        lastMiss: misses()[0],
      },
    ]);
    assert.deepEqual(h.hub.scripts.inputs.listenersOf('zigbee2mqtt/hall_motion'), [
      { script: 'watcher.js', filter: 'zigbee2mqtt/+', retained: 'ignore' },
    ]);
    const info = h.hub.automations.list().find((a) => a.id === 'hall_motion')!;
    assert.equal(info.health.nearMisses, 1004);
    assert.equal(info.health.ok, 0);
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('automation_failed tells of another automation failing, with its error; its own failures do not loop', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'automations.yaml'), YAML);
  const h = await startHub({}, dir);
  try {
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/alerts', { qos: 1 });
    await c.publishAsync('test/break', '1', { qos: 1 });
    await got.next(1);
    assert.match(got.messages[0]!.payload.toString(), /^broken: .*the bulb is gone/);
    await waitFor(() => h.hub.automations.list().find((a) => a.id === 'broken')!.health.failed === 1, 5000, 'counted');
    // tell_me failed too: that does not fire it again
    await waitFor(
      () => h.hub.automations.list().find((a) => a.id === 'tell_me')!.health.failed === 1,
      5000,
      'tell_me failed',
    );
    await c.publishAsync('test/marker', 'x', { qos: 1 });
    await new Promise((r) => setImmediate(r));
    assert.equal(h.hub.automations.runs('tell_me', 10).length, 1);
    assert.equal(got.messages.length, 1);
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('runs are kept per outcome: a burst of successes does not push the last failures out', () => {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, 'runs.db'));
  try {
    const trace = new RunTrace(db, 3, 0);
    const run = (status: 'ok' | 'failed') =>
      trace.finish(trace.begin('a', { type: 'mqtt', time: Date.now(), description: status }), status, []);
    for (let i = 0; i < 4; i++) run('failed');
    trace.flush();
    for (let i = 0; i < 50; i++) run('ok');
    trace.flush();
    assert.equal(trace.runs('a', 100, 'failed').length, 3, 'the last 3 failures');
    assert.equal(trace.runs('a', 100, 'ok').length, 3);
    assert.equal(trace.runs('a', 100).length, 6);
  } finally {
    db.close();
    removeDir(dir);
  }
});
