// Dry runs and replays against a live hub: the script or automation sees the hub's present (its
// entities' states, its broker's retained messages) in a simulated home, the answer says what it
// would do, and the live hub sends nothing (its own message trace and its actions say so).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { connect, removeDir, runCli, startHub, tempDir, waitFor, type TestHub } from '../helpers.js';
import { dryRun, type DryRunReport } from '../../src/simulate/dry-run.js';

let dir: string;
let h: TestHub;
let api: string;

const post = async (body: unknown) => {
  const res = await fetch(`${api}/api/dry-run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { data?: DryRunReport; error?: { message: string } } };
};

/** What the live hub itself published on `topic` (its trace records every publish it makes). */
const livePublished = (topic: string) => {
  h.hub.trace.flush();
  return h.hub.trace.recent(10_000).filter((e) => e.topic === topic);
};

before(async () => {
  dir = tempDir('dry-run-');
  mkdirSync(path.join(dir, 'scripts'));
  // reads a retained mode and an entity's state when it starts, answers motion with the light
  writeFileSync(
    path.join(dir, 'scripts', 'night.js'),
    [
      "Mqtt.subscribe('home/mode', (m) => {",
      "  if (m.payload === 'night' && Entity.getState('light.hall') === 'on')",
      "    Mqtt.publish('zigbee2mqtt/hall_light/set', { state: 'OFF' });",
      '});',
      "Mqtt.subscribe('zigbee2mqtt/hall_motion', (m) => {",
      "  if (m.json?.occupancy) Mqtt.publish('zigbee2mqtt/hall_light/set', { state: 'ON' });",
      '});',
      "setTimeout(() => Mqtt.publish('night/later', 'ten minutes on'), 600_000);",
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    stringify([
      {
        id: 'porch',
        triggers: [{ type: 'mqtt', topic: 'zigbee2mqtt/porch_motion', json: { occupancy: true } }],
        conditions: [{ type: 'state', entity: 'light.porch', state: 'off' }],
        actions: [
          { type: 'action', entity: 'light.porch', action: 'turn_on', params: { brightness: 128 } },
          { type: 'publish', topic: 'porch/seen', payload: '{{ trigger.json.occupancy }}' },
        ],
      },
      {
        id: 'flaky',
        triggers: [{ type: 'mqtt', topic: 'flaky/go' }],
        actions: [
          { type: 'publish', topic: 'flaky/first', payload: 'sent' },
          { type: 'script', code: "throw new Error('the second step broke')" },
        ],
      },
    ]),
  );
  h = await startHub(
    {
      http: { enabled: true, port: 0 },
      entities: [
        { id: 'light.hall', actions: ['turn_on', 'turn_off'] },
        { id: 'light.porch', actions: ['turn_on', 'turn_off'] },
      ],
    },
    dir,
    undefined,
    { dryRun },
  );
  api = h.hub.api!.url;
  h.hub.registry.setState('light.hall', 'on');
  h.hub.registry.setState('light.porch', 'off');
  const c = await connect(h.url);
  await c.publishAsync('home/mode', 'night', { qos: 1, retain: true });
  c.end();
});

after(async () => {
  await h.stop();
  removeDir(dir);
});

test("a script's dry run sees the live retained messages and states, says what it would publish, and sends nothing", async () => {
  // the live hub runs night.js too: it has answered the retained mode once by now
  await waitFor(() => livePublished('zigbee2mqtt/hall_light/set').length === 1, 5000, 'the live script');
  const r = await post({ script: 'night.js' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const report = r.body.data!;
  assert.equal(report.target, 'script night.js');
  assert.deepEqual(report.summary, ['would publish {"state":"OFF"} to zigbee2mqtt/hall_light/set']);
  assert.equal(report.timersPending, 1);
  assert.equal(livePublished('zigbee2mqtt/hall_light/set').length, 1);
  // the hub keeps only its own scripts: the dry run's copy is gone with its home
  assert.deepEqual(
    h.hub.scripts.list().map((s) => s.name),
    ['night.js'],
  );
});

test('--for moves the clock on: what it would do in the next ten minutes', async () => {
  const r = await post({ script: 'night.js', for: '10m' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(
    r.body.data!.summary.includes('would publish ten minutes on to night/later'),
    r.body.data!.summary.join('\n'),
  );
  assert.equal(r.body.data!.timersPending, 0);
});

test('a replay hands the script a message, as from a device', async () => {
  const r = await post({
    script: 'night.js',
    message: { topic: 'zigbee2mqtt/hall_motion', payload: '{"occupancy":true}' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(
    r.body.data!.published.map((p) => p.payload),
    ['{"state":"OFF"}', '{"state":"ON"}'],
  );
  assert.equal(livePublished('zigbee2mqtt/hall_light/set').length, 1);
});

test("an automation's dry run: its condition on the live state, the action it would ask for, and the live light untouched", async () => {
  const r = await post({
    automation: 'porch',
    message: { topic: 'zigbee2mqtt/porch_motion', payload: '{"occupancy":true}' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const report = r.body.data!;
  assert.deepEqual(
    report.runs.map((x) => x.status),
    ['ok'],
  );
  assert.ok(report.summary.includes('would ask light.porch for turn_on {"brightness":128}'), report.summary.join('\n'));
  assert.ok(report.summary.includes('would publish true to porch/seen'), report.summary.join('\n'));
  assert.equal(h.hub.registry.get('light.porch')?.state, 'off');
  assert.deepEqual(h.hub.entities.actions.recent('light.porch'), []);
  // with the porch light on in the live hub, the condition stops it
  h.hub.registry.setState('light.porch', 'on');
  try {
    const skipped = await post({ automation: 'porch' });
    assert.deepEqual(
      skipped.body.data!.runs.map((x) => x.status),
      ['skipped'],
    );
    assert.deepEqual(skipped.body.data!.actions, []);
    assert.match(
      skipped.body.data!.summary[0]!,
      /^automation porch would not run: condition 1 \(state\) false: light\.porch is "on"/,
    );
  } finally {
    h.hub.registry.setState('light.porch', 'off');
  }
});

test('a dry run that fails: what ran before the failure is told first, then the step it failed at, counted from 1', async () => {
  const r = await post({ automation: 'flaky' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const summary = r.body.data!.summary;
  assert.equal(summary[0], 'would publish sent to flaky/first', summary.join('\n'));
  assert.match(
    summary[1]!,
    /^automation flaky would fail at action 2 \(script\): .*the second step broke/,
    summary.join('\n'),
  );
});

test('a replay of a past run: the current automation gets that run’s trigger event', async () => {
  const c = await connect(h.url);
  await c.publishAsync('zigbee2mqtt/porch_motion', JSON.stringify({ occupancy: true, seq: 7 }), { qos: 1 });
  c.end();
  await waitFor(() => h.hub.automations.runs('porch', 5).some((x) => x.status !== 'running'), 5000, 'the live run');
  const past = h.hub.automations.runs('porch', 5)[0]!;
  const r = await post({ automation: 'porch', run: past.id });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual((r.body.data!.runs[0]!.trigger.json as { seq: number }).seq, 7);
  const missing = await post({ automation: 'porch', run: 999_999 });
  assert.equal(missing.status, 404);
  assert.match(missing.body.error!.message, /automation porch has no run 999999/);
});

test("a live replay runs the current automation for real on a past run's trigger event; admins only", async () => {
  const past = h.hub.automations.runs('porch', 5).find((x) => x.trigger.json !== undefined)!;
  const before = h.hub.automations.runs('porch', 100).length;
  const res = await fetch(`${api}/api/automations/porch/runs/${past.id}/replay`, { method: 'POST' });
  assert.equal(res.status, 200, await res.text());
  await waitFor(
    () =>
      h.hub.automations.runs('porch', 100).length > before &&
      h.hub.automations.runs('porch', 1)[0]!.status !== 'running',
    5000,
    'the replayed run',
  );
  const replayed = h.hub.automations.runs('porch', 1)[0]!;
  assert.match(replayed.trigger.description, new RegExp(`^replay of run ${past.id} by local: `));
  assert.deepEqual(replayed.trigger.json, past.trigger.json);
  assert.ok(replayed.trigger.time > past.trigger.time, 'it happens now');
  const missing = await fetch(`${api}/api/automations/porch/runs/999999/replay`, { method: 'POST' });
  assert.equal(missing.status, 404);
  // a disabled automation cannot run: a conflict that says how to resolve it, for a replay and a run by hand
  assert.equal((await fetch(`${api}/api/automations/porch/disable`, { method: 'POST' })).status, 200);
  try {
    for (const route of [`runs/${past.id}/replay`, 'trigger']) {
      const off = await fetch(`${api}/api/automations/porch/${route}`, { method: 'POST' });
      const body = (await off.json()) as { error: { code: string; message: string } };
      assert.equal(off.status, 409, `${route}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 'AUTOMATION_DISABLED');
      assert.match(
        body.error.message,
        /automation "porch" is disabled.*enable it first \(POST \/api\/automations\/porch\/enable/,
      );
    }
  } finally {
    assert.equal((await fetch(`${api}/api/automations/porch/enable`, { method: 'POST' })).status, 200);
  }
});

test('a bad dry run is refused, saying what to give', async () => {
  const both = await post({ script: 'night.js', automation: 'porch' });
  assert.equal(both.status, 400);
  assert.match(both.body.error!.message, /one script or one automation/);
  const none = await post({ script: '../smart-home.yaml' });
  assert.equal(none.status, 404);
  const far = await post({ script: 'night.js', for: '2d' });
  assert.equal(far.status, 400);
  assert.match(far.body.error!.message, /for: give a duration up to 1d/);
});

test('smart-home run --dry-run and automations --dry-run print what it would do', async () => {
  const r = await runCli(['run', path.join(dir, 'scripts', 'night.js'), '--dry-run', '--url', api, '--data', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^dry run of script night\.js against the hub as it is at .* \(nothing was sent\):\n {2}would publish \{"state":"OFF"\} to zigbee2mqtt\/hall_light\/set\n {2}\(1 timer still waiting: --for 10m shows what comes next\)\n$/,
  );
  const a = await runCli(['automations', '--dry-run', 'porch', '--url', api, '--data', dir]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /automation porch would run: ok \(steps: action ok, publish ok\)/);
  const outside = await runCli(['run', path.join(dir, 'smart-home.yaml'), '--dry-run', '--url', api, '--data', dir]);
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /--dry-run runs a script of the hub's scripts dir/);
});
