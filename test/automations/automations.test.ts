// Automations against the real broker: triggers, conditions, actions, modes, trace, reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHub, connect, collect, waitFor, sleep, tempDir, removeDir, runCli, type TestHub } from '../helpers.js';
import { inWindow } from '../../src/automations/conditions/time.js';
import { parseDuration } from '../../src/automations/duration.js';

const BASE = `
- id: motion_light
  name: Hall light on motion
  mode: queued
  triggers:
    - type: mqtt
      topic: zigbee2mqtt/+/occupancy
      json: { occupancy: true }
  conditions:
    - type: script
      expression: trigger.params[0] === 'hall_motion'
  actions:
    - type: publish
      topic: hall/light/set
      payload: { state: 'ON' }
      qos: 1
- id: scripted
  triggers:
    - type: mqtt
      topic: scripted/in
  actions:
    - type: script
      code: |
        const t = trigger.json;
        Mqtt.publish('scripted/out', { doubled: t.n * 2, topic: trigger.topic }, 1);
- id: started
  triggers:
    - type: system
      event: started
  actions:
    - type: publish
      topic: hub/started
      payload: yes
      retain: true
      qos: 1
`;

let h: TestHub;
let dir: string;
const file = () => path.join(dir, 'automations.yaml');
before(async () => {
  dir = tempDir();
  writeFileSync(file(), BASE);
  h = await startHub({}, dir);
});
after(async () => {
  await h.stop();
  removeDir(dir);
});

async function reload(text: string): Promise<string | undefined> {
  writeFileSync(file(), text);
  return h.hub.automations.reload();
}

test('durations and time windows', () => {
  assert.equal(parseDuration('1h30m'), 5400000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration(2), 2000);
  assert.equal(parseDuration('2 parsecs'), undefined);
  assert.ok(inWindow(23 * 3600, '22:00', '06:00'), 'a window may wrap midnight');
  assert.ok(!inWindow(12 * 3600, '22:00', '06:00'));
  assert.ok(inWindow(12 * 3600, '08:00', '18:00'));
});

test('an MQTT-triggered automation publishes within its run; JSON match and script condition filter', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('hall/light/set', { qos: 1 });
  await c.publishAsync('zigbee2mqtt/hall_motion/occupancy', '{"occupancy":false}', { qos: 1 });
  await c.publishAsync('zigbee2mqtt/garage_motion/occupancy', '{"occupancy":true}', { qos: 1 });
  await c.publishAsync('zigbee2mqtt/hall_motion/occupancy', '{"occupancy":true}', { qos: 1 });
  await got.next(1); // queued: the runs of the earlier messages finished (and published, or not) before this one
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['{"state":"ON"}'],
  );
  const runs = h.hub.automations.runs('motion_light');
  assert.deepEqual(
    runs.map((r) => r.status).sort(),
    ['ok', 'skipped'],
    'the garage run was skipped by its condition; the occupancy:false message never triggered',
  );
  const ok = runs.find((r) => r.status === 'ok')!;
  assert.equal(ok.trigger.topic, 'zigbee2mqtt/hall_motion/occupancy');
  assert.deepEqual(
    ok.steps.map((s) => [s.kind, s.type, s.result]),
    [
      ['condition', 'script', 'true'],
      ['action', 'publish', 'ok'],
    ],
  );
  c.end();
});

test('a script action has the trigger in scope', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('scripted/out', { qos: 1 });
  await c.publishAsync('scripted/in', '{"n":21}', { qos: 1 });
  const [m] = await got.next(1);
  assert.deepEqual(JSON.parse(m!.payload.toString()), { doubled: 42, topic: 'scripted/in' });
  c.end();
});

test('a system started trigger ran when the hub started', async () => {
  await waitFor(() => h.hub.automations.runs('started').some((r) => r.status === 'ok'));
});

test('a cron trigger fires on its schedule (every second)', async () => {
  assert.equal(
    await reload(
      BASE +
        `
- id: every_second
  triggers:
    - type: time
      cron: "* * * * * *"
      timezone: UTC
  actions:
    - type: publish
      topic: cron/tick
`,
    ),
    undefined,
  );
  await waitFor(
    () => h.hub.automations.runs('every_second').filter((r) => r.status === 'ok').length >= 2,
    5000,
    'two ticks',
  );
});

test('a state trigger with for: fires only when the state holds long enough', async () => {
  h.hub.registry.upsert({ id: 'binary_sensor.door' });
  h.hub.registry.setState('binary_sensor.door', 'closed');
  assert.equal(
    await reload(
      BASE +
        `
- id: door_open_long
  triggers:
    - type: state
      entity: binary_sensor.door
      to: open
      for: 300ms
  actions:
    - type: publish
      topic: door/alarm
`,
    ),
    undefined,
  );
  // time passing is what `for:` is about: 100 ms open (of 300), then closed past the 300
  h.hub.registry.setState('binary_sensor.door', 'open');
  await sleep(100);
  h.hub.registry.setState('binary_sensor.door', 'closed'); // not long enough
  await sleep(400);
  assert.equal(h.hub.automations.runs('door_open_long').length, 0);
  h.hub.registry.setState('binary_sensor.door', 'open');
  await waitFor(() => h.hub.automations.runs('door_open_long').length === 1, 2000);
  assert.match(
    h.hub.automations.runs('door_open_long')[0]!.trigger.description,
    /binary_sensor\.door changed from "closed" to "open" and stayed for 300 ms/,
  );
});

const modeAutomation = (mode: string, extra = '') => `
- id: mode_${mode}
  mode: ${mode}${extra}
  triggers:
    - type: mqtt
      topic: mode/${mode}
  actions:
    - type: delay
      for: 150ms
    - type: script
      code: Mqtt.publish('mode/${mode}/done', trigger.payload, 1)
`;

async function fireMode(mode: string, payloads: string[]): Promise<string[]> {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync(`mode/${mode}/done`, { qos: 1 });
  const before = new Set(h.hub.automations.runs(`mode_${mode}`, 100).map((r) => r.id));
  for (const p of payloads) await c.publishAsync(`mode/${mode}`, p, { qos: 1 });
  // every trigger has its run (finished, dropped or cancelled), and each finished run's publish is in
  await waitFor(
    () => {
      const runs = h.hub.automations.runs(`mode_${mode}`, 100).filter((r) => !before.has(r.id));
      return (
        runs.length === payloads.length &&
        runs.every((r) => r.status !== 'running') &&
        got.messages.length === runs.filter((r) => r.status === 'ok').length
      );
    },
    5000,
    `the ${mode} runs to finish`,
  );
  c.end();
  return got.messages.map((m) => m.payload.toString());
}

test('modes: single drops a trigger while running; queued runs them in order; restart keeps the last; parallel runs them together', async () => {
  // (reload resolves once every trigger's subscription is acknowledged)
  assert.equal(
    await reload(
      BASE +
        modeAutomation('single') +
        modeAutomation('queued', '\n  max: 5') +
        modeAutomation('restart') +
        modeAutomation('parallel', '\n  max: 2'),
    ),
    undefined,
  );
  assert.deepEqual(await fireMode('single', ['1', '2', '3']), ['1']);
  assert.ok(h.hub.automations.runs('mode_single').filter((r) => r.status === 'dropped').length === 2);
  assert.deepEqual(await fireMode('queued', ['1', '2', '3']), ['1', '2', '3']);
  assert.deepEqual(await fireMode('restart', ['1', '2', '3']), ['3']);
  assert.equal(h.hub.automations.runs('mode_restart').filter((r) => r.status === 'cancelled').length, 2);
  const parallel = await fireMode('parallel', ['1', '2', '3']);
  assert.deepEqual(parallel.sort(), ['1', '2'], 'max 2 at once, the third dropped');
});

test('a failing action is recorded in the trace with its line in automations.yaml, and other automations go on', async () => {
  const text =
    BASE +
    `
- id: broken
  triggers:
    - type: mqtt
      topic: broken/in
  actions:
    - type: script
      code: |
        const x = 1;
        null.explode;
    - type: publish
      topic: never/published
`;
  assert.equal(await reload(text), undefined);
  const line = text.split('\n').findIndex((l) => l.includes('null.explode')) + 1;
  const c = await connect(h.url);
  await c.publishAsync('broken/in', 'x', { qos: 1 });
  await waitFor(() => h.hub.automations.runs('broken').some((r) => r.status === 'failed'));
  const run = h.hub.automations.runs('broken')[0]!;
  assert.equal(run.steps.length, 1);
  assert.equal(run.steps[0]!.result, 'error');
  assert.match(
    run.steps[0]!.error!,
    new RegExp(`automations\\.yaml:${line}:\\d+: TypeError: cannot read property 'explode' of null`),
  );
  // another automation still works
  const got = collect(c);
  await c.subscribeAsync('scripted/out', { qos: 1 });
  await c.publishAsync('scripted/in', '{"n":1}', { qos: 1 });
  await got.next(1);
  c.end();
});

test('an invalid file or unknown trigger type: a located error, nothing half-loaded, running automations keep running', async () => {
  const before = h.hub.automations
    .list()
    .map((a) => a.id)
    .sort();
  const bad =
    BASE +
    `
- id: typo
  triggers:
    - type: mqtt
      topic: a/b
    - type: sunrise
  actions:
    - type: publish
      topic: x
`;
  const err = await reload(bad);
  const line = bad.split('\n').findIndex((l) => l.includes('type: sunrise')) + 1;
  assert.match(
    err!,
    new RegExp(
      `automations\\.yaml:${line}:7: 3\\.triggers\\.1\\.type: .*'mqtt' \\| 'time' \\| 'interval' \\| 'state' \\| 'sun' \\| 'system'`,
    ),
  );
  assert.deepEqual(
    h.hub.automations
      .list()
      .map((a) => a.id)
      .sort(),
    before,
    'nothing changed',
  );
  const err2 = await reload(
    BASE +
      `\n- id: bad_key\n  triggers:\n    - type: mqtt\n      topik: a\n  actions:\n    - type: delay\n      for: 1s\n`,
  );
  assert.match(err2!, /unknown key "3\.triggers\.0\.topik" \(did you mean "topic"\?\)/);
  const err3 = await reload(
    BASE +
      `\n- id: bad_cron\n  triggers:\n    - type: time\n      cron: "61 * * * *"\n  actions:\n    - type: delay\n      for: 1s\n`,
  );
  assert.match(
    err3!,
    /automations\.yaml:\d+:\d+: bad_cron\.triggers\[0\]\.cron: "61 \* \* \* \*" is not a valid schedule/,
  );
  const err4 = await reload(
    BASE +
      `\n- id: bad_script\n  triggers:\n    - type: mqtt\n      topic: q\n  actions:\n    - type: script\n      code: "Mqtt.publish('a', 'b'"\n`,
  );
  assert.match(err4!, /automations\.yaml:\d+:\d+: bad_script\.actions\[0\]: SyntaxError/);
  // the running ones still run
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('scripted/out', { qos: 1 });
  await c.publishAsync('scripted/in', '{"n":2}', { qos: 1 });
  await got.next(1);
  c.end();
});

test('reload while running: an unchanged automation keeps its run in progress; a changed one is replaced', async () => {
  const slow = `
- id: slow
  triggers:
    - type: mqtt
      topic: slow/in
  actions:
    - type: delay
      for: 400ms
    - type: publish
      topic: slow/done
      qos: 1
`;
  assert.equal(await reload(BASE + slow), undefined);
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('slow/done', { qos: 1 });
  await c.publishAsync('slow/in', 'x', { qos: 1 });
  await waitFor(
    () => h.hub.automations.runs('slow', 5).some((r) => r.status === 'running'),
    5000,
    'the slow run to be under way',
  );
  assert.equal(await reload(BASE.replace('hall/light/set', 'hall/light/set2') + slow), undefined); // motion_light changed, slow not
  await got.next(1, 2000);
  // (the run ends when its publish is acknowledged, which the broker does once it has delivered)
  await waitFor(() => h.hub.automations.runs('slow')[0]!.status !== 'running', 2000, 'the slow run to end');
  assert.equal(h.hub.automations.runs('slow')[0]!.status, 'ok');
  c.end();
});

test('watching the file: saving automations.yaml reloads it', async () => {
  writeFileSync(
    file(),
    BASE +
      `\n- id: from_watch\n  triggers:\n    - type: interval\n      every: 50ms\n  actions:\n    - type: delay\n      for: 1ms\n`,
  );
  await waitFor(() => h.hub.automations.list().some((a) => a.id === 'from_watch'), 5000, 'the watcher to reload');
  await waitFor(() => h.hub.automations.runs('from_watch').length >= 2);
});

test('smart-home automations lists them with their last run', async () => {
  await h.hub.automations.setEnabled('from_watch', false);
  const r = await runCli(['automations', '--data', dir, '--runs', 'motion_light']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^motion_light \(Hall light on motion\) {2}enabled {2}queued {2}triggers: mqtt {2}last run \S+ /m,
  );
  assert.match(r.stdout, /^from_watch {2}disabled/m);
  assert.match(r.stdout, /condition\[0\] script: (true|false)/);
});

test('a system stopping automation gets to run while the hub stops: its retained publish is there after a restart', async () => {
  const d = tempDir();
  writeFileSync(
    path.join(d, 'automations.yaml'),
    `
- id: goodbye
  triggers:
    - type: system
      event: stopping
  actions:
    - type: delay
      for: 50ms
    - type: publish
      topic: hub/state
      payload: offline
      retain: true
      qos: 1
`,
  );
  const first = await startHub({}, d);
  await first.stop();
  const second = await startHub({}, d);
  try {
    const c = await connect(second.url);
    const got = collect(c);
    await c.subscribeAsync('hub/state', { qos: 1 });
    assert.equal((await got.next(1))[0]!.payload.toString(), 'offline');
    c.end();
  } finally {
    await second.stop();
    removeDir(d);
  }
});
