// A publish action with templates in its topic and payload: rendered on the host (no sandbox),
// a single {{ }} keeps its type, and a template outside the subset is a located error at load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHub, connect, collect, tempDir, removeDir, type TestHub } from '../helpers.js';

const FILE = `
- id: reshape
  mode: queued
  max: 100
  triggers:
    - type: mqtt
      topic: tpl/+/in
  actions:
    - type: publish
      topic: "tpl/{{ trigger.params[0] }}/out"
      payload:
        seq: "{{ trigger.json.seq }}"
        double: "{{ value_json.seq * 2 }}"
        state: "{{ 'on' if value_json.on else 'off' }}"
        text: "seq {{ trigger.json.seq }} of {{ trigger.topic }}"
        fixed: [1, "two"]
- id: plain
  triggers:
    - type: mqtt
      topic: tpl/plain
  actions:
    - type: publish
      topic: tpl/plain/out
      payload: "{{ value | upper }}"
`;

let h: TestHub;
let dir: string;
before(async () => {
  dir = tempDir();
  writeFileSync(path.join(dir, 'automations.yaml'), FILE);
  h = await startHub({}, dir);
});
after(async () => {
  await h.stop();
  removeDir(dir);
});

test('a publish action renders its topic and payload templates from the trigger; a single {{ }} keeps its type', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('tpl/+/out', { qos: 1 });
  await c.subscribeAsync('tpl/plain/out', { qos: 1 });
  await c.publishAsync('tpl/kitchen/in', '{"seq":7,"on":true}', { qos: 1 });
  const [m] = await got.next(1);
  assert.equal(m!.topic, 'tpl/kitchen/out');
  assert.deepEqual(JSON.parse(m!.payload.toString()), {
    seq: 7,
    double: 14,
    state: 'on',
    text: 'seq 7 of tpl/kitchen/in',
    fixed: [1, 'two'],
  });
  await c.publishAsync('tpl/plain', 'hello', { qos: 1 });
  const p = (await got.next(2))[1];
  assert.equal(p!.payload.toString(), 'HELLO', 'a string payload is sent as the rendered text');
  const run = h.hub.automations.runs('reshape')[0]!;
  assert.deepEqual(
    run.steps.map((s) => [s.type, s.result]),
    [['publish', 'ok']],
  );
  c.end();
});

test('a template outside the subset is an error at its line in automations.yaml; the running automations stay', async () => {
  const bad = `${FILE}
- id: broken
  triggers:
    - type: mqtt
      topic: tpl/broken
  actions:
    - type: publish
      topic: tpl/broken/out
      payload: "{% for x in value_json %}{{ x }}{% endfor %}"
`;
  writeFileSync(path.join(dir, 'automations.yaml'), bad);
  const err = await h.hub.automations.reload();
  const line = bad.split('\n').findIndex((l) => l.includes('{% for')) + 1;
  assert.match(
    err!,
    new RegExp(`automations\\.yaml:${line}:\\d+: broken\\.actions\\[0\\]\\.payload: .*not in the template subset`),
  );
  assert.deepEqual(
    h.hub.automations
      .list()
      .map((a) => a.id)
      .sort(),
    ['plain', 'reshape'],
  );
});
