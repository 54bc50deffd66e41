// Time that survives restarts: a run waiting in a delay or a wait_for, and a state trigger's
// pending `for:`, are kept in SQLite and go on at their original deadline after a restart or a
// kill -9 (a late one at once, the trace says how late), as `on_restart` allows; a schedule missed
// in the downtime runs once with `run_if_missed`; a retained message does not fire an mqtt
// trigger. Time is a fake clock the test moves (test/helpers.ts fakeClock); the kill -9 waits on
// the stored row, not on time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createLogger } from '../../src/log.js';
import { IKEA_BULB, device } from '../fixtures/zigbee2mqtt.js';
import {
  collect,
  connect,
  fakeClock,
  removeDir,
  serve,
  startHub,
  tempDir,
  waitFor,
  type FakeClock,
  type TestHub,
} from '../helpers.js';

const silent = createLogger('silent');
const PORCH = `- id: porch
  triggers:
    - type: mqtt
      topic: test/porch/motion
  actions:
    - type: publish
      topic: test/porch/light
      payload: "on"
    - type: delay
      for: 30s
    - type: publish
      topic: test/porch/light
      payload: "off"
`;

const waitRows = (dir: string) => {
  const db = new Database(path.join(dir, 'smart-home.db'), { readonly: true });
  try {
    return db.prepare('SELECT automation, kind, step, deadline FROM automation_waits').all() as {
      automation: string;
      kind: string;
      step: string;
      deadline: number;
    }[];
  } finally {
    db.close();
  }
};

async function hubAt(dir: string, clock: FakeClock, overrides: Record<string, unknown> = {}): Promise<TestHub> {
  return startHub(overrides, dir, silent, { clock });
}

/** Waits until every message published before this call has come back (the broker keeps order). */
async function roundTrip(h: TestHub, c: Awaited<ReturnType<typeof connect>>, got: ReturnType<typeof collect>) {
  const marker = `marker-${Math.random()}`;
  await c.subscribeAsync('test/marker', { qos: 1 });
  await h.hub.bus.publish('test/marker', Buffer.from(marker), { qos: 1, retain: false });
  await waitFor(() => got.messages.some((m) => m.payload.toString() === marker), 5000, 'the marker');
}

const lastRun = (h: TestHub, id: string) => h.hub.automations.runs(id, 1)[0]!;

test('kill -9 during a 30 s delay: after the restart the rest of the run happens at the original deadline, once', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'automations.yaml'), PORCH);
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    'broker:\n  listeners: [{type: tcp, host: 127.0.0.1, port: 0}]\n  mdns: false\nhttp: {enabled: false}\n',
  );
  const child = await serve(['--data', dir]);
  let h: TestHub | undefined;
  try {
    const c = await connect(child.url);
    const got = collect(c);
    await c.subscribeAsync('test/porch/light', { qos: 1 });
    await c.publishAsync('test/porch/motion', '1', { qos: 1 });
    await got.next(1);
    assert.equal(got.messages[0]!.payload.toString(), 'on');
    await waitFor(() => waitRows(dir).length === 1, 10000, 'the delay stored');
    const [row] = waitRows(dir);
    assert.deepEqual(
      { ...row, deadline: undefined },
      {
        automation: 'porch',
        kind: 'delay',
        step: 'actions[1]',
        deadline: undefined,
      },
    );
    c.end();
    child.child.kill('SIGKILL');
    await child.exited;

    // back 20 s into the delay: 10 s to go
    const clock = fakeClock(row!.deadline - 10_000);
    h = await hubAt(dir, clock);
    const c2 = await connect(h.url);
    const got2 = collect(c2);
    await c2.subscribeAsync('test/porch/light', { qos: 1 });
    clock.advance(9_000);
    await roundTrip(h, c2, got2);
    assert.deepEqual(
      got2.messages.filter((m) => m.topic === 'test/porch/light'),
      [],
      'not before the deadline',
    );
    assert.equal(waitRows(dir).length, 1, 'still waiting');
    assert.deepEqual(
      h.hub.automations.list().find((a) => a.id === 'porch')!.waiting,
      [{ kind: 'delay', step: 'actions[1]', deadline: row!.deadline }],
      'the API says what it waits for',
    );
    clock.advance(1_000);
    await waitFor(() => got2.messages.some((m) => m.topic === 'test/porch/light'), 5000, 'the light off');
    assert.equal(got2.messages.find((m) => m.topic === 'test/porch/light')!.payload.toString(), 'off');
    await waitFor(() => lastRun(h!, 'porch').status === 'ok', 5000, 'the run finished');
    const run = lastRun(h, 'porch');
    assert.deepEqual(
      run.steps.map((s) => [s.type, s.result, s.detail]),
      [
        ['resume', 'ok', 'resumed after restart, 10 s to go'],
        ['delay', 'ok', undefined],
        ['publish', 'ok', undefined],
      ],
    );
    assert.deepEqual(waitRows(dir), [], 'the wait is gone');
    // once: another restart has nothing to resume
    c2.end();
    await h.stop();
    h = await hubAt(dir, clock);
    assert.equal(h.hub.automations.runs('porch', 10).filter((r) => r.steps[0]?.type === 'resume').length, 1);
  } finally {
    child.child.kill('SIGKILL');
    await h?.stop();
    removeDir(dir);
  }
});

test('a stop keeps the wait; a restart past the deadline runs the rest at once and says how late; on_restart skip and run_if_missed decide otherwise', async () => {
  const dir = tempDir();
  const yaml = (onRestart: string) =>
    PORCH +
    `- id: porch_skip\n  on_restart: skip\n  triggers:\n    - type: mqtt\n      topic: test/porch/motion\n  actions:\n    - type: delay\n      for: 30s\n    - type: publish\n      topic: test/porch/skip\n      payload: "off"\n` +
    `- id: porch_missed\n  on_restart: ${onRestart}\n  triggers:\n    - type: mqtt\n      topic: test/porch/motion\n  actions:\n    - type: delay\n      for: 30s\n    - type: publish\n      topic: test/porch/missed\n      payload: "off"\n`;
  writeFileSync(path.join(dir, 'automations.yaml'), yaml('{run_if_missed: 1m}'));
  const t0 = Date.UTC(2026, 11, 2, 18, 0, 0);
  let clock = fakeClock(t0);
  let h = await hubAt(dir, clock);
  try {
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/porch/#', { qos: 1 });
    await c.publishAsync('test/porch/motion', '1', { qos: 1 });
    await waitFor(() => waitRows(dir).length === 3, 5000, 'three delays stored');
    c.end();
    await h.stop();
    assert.equal(waitRows(dir).length, 3, 'a stop keeps them');
    // 30 s + 42 s later
    clock = fakeClock(t0 + 72_000);
    h = await hubAt(dir, clock);
    await waitFor(() => lastRun(h, 'porch').status === 'ok', 5000, 'porch resumed');
    assert.equal(lastRun(h, 'porch').steps[0]!.detail, 'resumed after restart, 42 s late');
    await waitFor(() => lastRun(h, 'porch_missed').status === 'ok', 5000, 'porch_missed resumed');
    const skipped = lastRun(h, 'porch_skip');
    assert.equal(skipped.status, 'skipped');
    assert.equal(skipped.steps[0]!.detail, 'not resumed after the restart (delay 42 s late; on_restart: skip)');
    // the resumed runs published (at start, before any client was there to see it)
    for (const id of ['porch', 'porch_missed'])
      assert.deepEqual(
        lastRun(h, id).steps.map((s) => [s.type, s.result]),
        [
          ['resume', 'ok'],
          ['delay', 'ok'],
          ['publish', 'ok'],
        ],
      );
    void got;
    await h.stop();

    // more than run_if_missed late: not resumed, and the trace says why
    writeFileSync(path.join(dir, 'automations.yaml'), yaml('{run_if_missed: 10s}'));
    h = await hubAt(dir, clock);
    const c3 = await connect(h.url);
    await c3.publishAsync('test/porch/motion', '1', { qos: 1 });
    await waitFor(() => waitRows(dir).filter((w) => w.automation === 'porch_missed').length === 1, 5000, 'stored');
    c3.end();
    await h.stop();
    clock = fakeClock(clock.now() + 30_000 + 120_000);
    h = await hubAt(dir, clock);
    const missed = lastRun(h, 'porch_missed');
    assert.equal(missed.status, 'skipped');
    assert.equal(
      missed.steps[0]!.detail,
      'not resumed after the restart (delay 2 min late; more than run_if_missed 10 s)',
    );
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test("a state trigger's pending for: survives a restart while the entity stays in that state; it is dropped when the state changed", async () => {
  const dir = tempDir();
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    `- id: heater_left_on
  triggers:
    - type: state
      entity: switch.heater
      to: "on"
      for: 10m
  actions:
    - type: publish
      topic: test/heater
      payload: "still on"
`,
  );
  const config = { entities: [{ id: 'switch.heater' }] };
  const t0 = Date.UTC(2026, 11, 2, 18, 0, 0);
  let clock = fakeClock(t0);
  let h = await hubAt(dir, clock, config);
  try {
    h.hub.entities.setState('switch.heater', 'on');
    await waitFor(() => waitRows(dir).length === 1, 5000, 'the for: stored');
    assert.equal(waitRows(dir)[0]!.kind, 'state_for');
    await h.stop();
    clock = fakeClock(t0 + 5 * 60_000);
    h = await hubAt(dir, clock, config);
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/heater', { qos: 1 });
    clock.advance(4 * 60_000);
    await roundTrip(h, c, got);
    assert.equal(got.messages.filter((m) => m.topic === 'test/heater').length, 0, 'not before 10 min');
    clock.advance(60_000);
    await waitFor(() => got.messages.some((m) => m.topic === 'test/heater'), 5000, 'still on');
    await waitFor(() => lastRun(h, 'heater_left_on')?.status === 'ok', 5000, 'the run');
    assert.match(
      lastRun(h, 'heater_left_on').trigger.description,
      /stayed for 600000 ms \(resumed after restart, 5 min to go\)$/,
    );
    assert.deepEqual(waitRows(dir), []);
    // pending again, then the heater is switched off while the hub is down: nothing fires
    h.hub.entities.setState('switch.heater', 'off');
    h.hub.entities.setState('switch.heater', 'on');
    await waitFor(() => waitRows(dir).length === 1, 5000, 'pending again');
    await h.stop();
    const db = new Database(path.join(dir, 'smart-home.db'));
    db.prepare("UPDATE entities SET state = '\"off\"' WHERE id = 'switch.heater'").run();
    db.close();
    h = await hubAt(dir, fakeClock(clock.now() + 20 * 60_000), config);
    assert.deepEqual(waitRows(dir), [], 'dropped: the heater is off now');
    assert.equal(h.hub.automations.runs('heater_left_on', 10).length, 1, 'and it did not fire');
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('wait_for: goes on when the state is reached (at once if it is), stops on timeout with on_timeout: stop; a retained message does not end it', async () => {
  const dir = tempDir();
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    `- id: door
  mode: parallel
  triggers:
    - type: mqtt
      topic: test/door/open
  actions:
    - type: wait_for
      state: {entity: binary_sensor.door, state: "off"}
      timeout: 2m
      on_timeout: stop
    - type: publish
      topic: test/door/closed
      payload: "closed"
- id: doorbell
  triggers:
    - type: mqtt
      topic: test/bell/ring
  actions:
    - type: wait_for
      mqtt: {topic: test/bell/answer}
      timeout: 1m
    - type: publish
      topic: test/bell/done
      payload: "done"
`,
  );
  const clock = fakeClock(Date.UTC(2026, 11, 2, 18, 0, 0));
  const h = await hubAt(dir, clock, { entities: [{ id: 'binary_sensor.door' }] });
  try {
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/+/+', { qos: 1 });
    h.hub.entities.setState('binary_sensor.door', 'on');
    await c.publishAsync('test/door/open', '1', { qos: 1 });
    await waitFor(() => waitRows(dir).length === 1, 5000, 'waiting for the door');
    clock.advance(30_000);
    h.hub.entities.setState('binary_sensor.door', 'off');
    await waitFor(() => got.messages.some((m) => m.topic === 'test/door/closed'), 5000, 'closed');
    await waitFor(() => lastRun(h, 'door')?.status === 'ok', 5000, 'the run');
    assert.equal(lastRun(h, 'door').steps[0]!.detail, 'waited 30 s for binary_sensor.door to be "off"');
    // already off: at once
    await c.publishAsync('test/door/open', '2', { qos: 1 });
    await waitFor(() => got.messages.filter((m) => m.topic === 'test/door/closed').length === 2, 5000, 'at once');
    // never closed: the run stops at the timeout
    h.hub.entities.setState('binary_sensor.door', 'on');
    await c.publishAsync('test/door/open', '3', { qos: 1 });
    await waitFor(() => waitRows(dir).length === 1, 5000, 'waiting again');
    clock.advance(120_000);
    await waitFor(() => lastRun(h, 'door')?.status === 'skipped', 5000, 'stopped');
    assert.equal(
      lastRun(h, 'door').steps[0]!.detail,
      'timed out after 120 s waiting for binary_sensor.door to be "off"; the run stops there (on_timeout: stop)',
    );
    // a retained answer is the broker's memory, not an answer
    await c.publishAsync('test/bell/answer', 'old', { qos: 1, retain: true });
    await c.publishAsync('test/bell/ring', '1', { qos: 1 });
    await waitFor(() => waitRows(dir).length === 1, 5000, 'waiting for an answer');
    await roundTrip(h, c, got);
    assert.equal(waitRows(dir).length, 1, 'the retained answer did not end it');
    await c.publishAsync('test/bell/answer', 'now', { qos: 1 });
    await waitFor(() => got.messages.some((m) => m.topic === 'test/bell/done'), 5000, 'done');
    await c.publishAsync('test/bell/answer', '', { qos: 1, retain: true });
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('a retained message does not fire an mqtt trigger at start (retained: include does); a fresh one does', async () => {
  const dir = tempDir();
  // the press is retained before the automations exist (a button that published with retain)
  let h = await startHub({}, dir);
  const c0 = await connect(h.url);
  await c0.publishAsync('test/button/press', 'old press', { qos: 1, retain: true });
  c0.end();
  await h.stop();
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    `- id: button
  triggers:
    - type: mqtt
      topic: test/button/press
  actions:
    - type: publish
      topic: test/button/ran
      payload: "ran"
- id: button_include
  triggers:
    - type: mqtt
      topic: test/button/press
      retained: include
  actions:
    - type: publish
      topic: test/button/included
      payload: "{{ trigger.payload }}"
      retain: true
`,
  );
  h = await startHub({}, dir);
  try {
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/button/+', { qos: 1 });
    // the retained press reached the triggers: the one with retained: include ran on it (and kept its answer)
    await waitFor(() => got.messages.some((m) => m.topic === 'test/button/included'), 5000, 'include ran');
    assert.equal(got.messages.find((m) => m.topic === 'test/button/included')!.payload.toString(), 'old press');
    assert.equal(h.hub.automations.runs('button', 10).length, 0, 'the retained press did not fire it');
    await c.publishAsync('test/button/press', 'new press', { qos: 1 });
    await waitFor(() => got.messages.some((m) => m.topic === 'test/button/ran'), 5000, 'a fresh press fires it');
    assert.equal(h.hub.automations.runs('button', 10).length, 1);
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('a schedule missed while the hub was down runs once at start with run_if_missed, not when it was missed by more, and not twice', async () => {
  const dir = tempDir();
  const yaml = (within: string) => `- id: morning
  on_restart: {run_if_missed: ${within}}
  triggers:
    - type: time
      cron: "0 7 * * *"
      timezone: UTC
  actions:
    - type: publish
      topic: test/morning
      payload: "blinds up"
`;
  writeFileSync(path.join(dir, 'automations.yaml'), yaml('1h'));
  // the hub runs until 06:50 UTC, is down over 07:00
  let h = await hubAt(dir, fakeClock(Date.UTC(2026, 11, 2, 6, 50)));
  await h.stop();
  try {
    h = await hubAt(dir, fakeClock(Date.UTC(2026, 11, 2, 7, 40)));
    await waitFor(() => h.hub.automations.runs('morning', 5).length === 1, 5000, 'the catch-up');
    assert.match(
      lastRun(h, 'morning').trigger.description,
      /the run due at 2026-12-02T07:00:00\.000Z was missed while the hub was down; run now, 40 min late \(run_if_missed 1 h\)/,
    );
    await h.stop();
    // the same downtime again, with the heartbeat as a kill -9 right after 06:50 would have left it: it has run
    const db = new Database(path.join(dir, 'smart-home.db'));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'automations.alive'").run(String(Date.UTC(2026, 11, 2, 6, 50)));
    db.close();
    h = await hubAt(dir, fakeClock(Date.UTC(2026, 11, 2, 7, 45)));
    assert.equal(h.hub.automations.runs('morning', 5).length, 1, 'not twice');
    await h.stop();
    // down from 07:45 to the next day's 09:00: 07:00 was missed by 2 h, more than run_if_missed
    writeFileSync(path.join(dir, 'automations.yaml'), yaml('1h'));
    h = await hubAt(dir, fakeClock(Date.UTC(2026, 11, 3, 9, 0)));
    assert.equal(h.hub.automations.runs('morning', 5).length, 1, 'missed by more than 1 h: not run');
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('bad time config is an error at its line: a negative for:, a schedule in the past, a bad on_restart', async () => {
  const dir = tempDir();
  const h = await startHub({}, dir);
  try {
    const bad = async (text: string, want: RegExp) => {
      const err = await h.hub.automations.reload(text);
      assert.match(err ?? '', want);
    };
    await bad(
      '- id: a\n  triggers: [{type: mqtt, topic: x}]\n  actions:\n    - type: delay\n      for: -5s\n',
      /automations\.yaml:5:\d+: .*"-5s" is not a duration/,
    );
    await bad(
      '- id: a\n  triggers:\n    - type: time\n      cron: "2020-01-01T00:00:00"\n  actions: [{type: publish, topic: x}]\n',
      /"2020-01-01T00:00:00" never comes again/,
    );
    await bad(
      '- id: a\n  on_restart: later\n  triggers: [{type: mqtt, topic: x}]\n  actions: [{type: publish, topic: x}]\n',
      /:2:\d+: .*on_restart.*must be resume, skip or \{run_if_missed: <duration>\}/,
    );
    await bad(
      '- id: a\n  triggers: [{type: mqtt, topic: x}]\n  actions:\n    - type: wait_for\n      timeout: 1m\n',
      /:4:\d+: .*wait_for needs one of state: \{entity, state\} or mqtt: \{topic\}/,
    );
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('the start-up barrier: a state trigger does not fire on the states an integration applies from retained messages at start; a fresh change fires it', async () => {
  const dir = tempDir();
  // what the broker keeps from before: the device list and the light's state (a device that publishes with retain)
  let h = await startHub({}, dir);
  const c0 = await connect(h.url);
  await c0.publishAsync('zigbee2mqtt/bridge/devices', JSON.stringify([device('hall light', IKEA_BULB)]), {
    qos: 1,
    retain: true,
  });
  await c0.publishAsync('zigbee2mqtt/hall light', JSON.stringify({ state: 'ON', brightness: 120 }), {
    qos: 1,
    retain: true,
  });
  c0.end();
  await h.stop();
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    `- id: hall_on
  triggers:
    - type: state
      entity: light.hall_light
      to: "on"
  actions:
    - type: publish
      topic: test/hall/on
      payload: "on"
`,
  );
  h = await startHub({ zigbee2mqtt: { enabled: true } }, dir);
  try {
    assert.equal(
      h.hub.registry.get('light.hall_light')?.state,
      'on',
      'the retained state was applied before the hub was up',
    );
    assert.equal(h.hub.automations.runs('hall_on', 5).length, 0, 'and did not fire the trigger');
    const c = await connect(h.url);
    await c.publishAsync('zigbee2mqtt/hall light', JSON.stringify({ state: 'OFF', brightness: 120 }), { qos: 1 });
    await waitFor(() => h.hub.registry.get('light.hall_light')?.state === 'off', 5000, 'off');
    await c.publishAsync('zigbee2mqtt/hall light', JSON.stringify({ state: 'ON', brightness: 120 }), { qos: 1 });
    await waitFor(() => h.hub.automations.runs('hall_on', 5).length === 1, 5000, 'a fresh change fires it');
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
