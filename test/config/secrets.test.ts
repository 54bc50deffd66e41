// `!secret name` in smart-home.yaml / automations.yaml, read from secrets.yaml in the data dir;
// a value never reaches a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { collect, connect, removeDir, startHub, tempDir } from '../helpers.js';

function withData(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  try {
    fn(dir);
  } finally {
    removeDir(dir);
  }
}

test('!secret puts the value from secrets.yaml in the data dir in place, keeping its type', () => {
  withData(
    {
      'smart-home.yaml':
        'mqtt:\n  username: hub\n  password: !secret mqtt_password\nhttp:\n  port: !secret http_port\n',
      'secrets.yaml': '# kept out of the config file\nmqtt_password: "p@ss: w0rd"\nhttp_port: 8125\n',
    },
    (dir) => {
      const { config } = loadConfig({ data: dir }, {}, dir);
      assert.equal(config.mqtt.password, 'p@ss: w0rd');
      assert.equal(config.http.port, 8125);
    },
  );
});

test('a !secret with no such name is an error at its line that names the file and the names it has, not their values', () => {
  withData(
    {
      'smart-home.yaml': 'mqtt:\n  username: hub\n  password: !secret mqtt_pasword\n',
      'secrets.yaml': 'mqtt_password: hunter22\n',
    },
    (dir) => {
      assert.throws(
        () => loadConfig({ data: dir }, {}, dir),
        (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.message,
            /smart-home\.yaml:3:3: !secret mqtt_pasword: no secret "mqtt_pasword" in .*secrets\.yaml \(it has: mqtt_password\)/,
          );
          assert.doesNotMatch(err.message, /hunter22/);
          return true;
        },
      );
    },
  );
});

test('a !secret without a secrets.yaml says how to make one; a bad secrets.yaml is located', () => {
  withData({ 'smart-home.yaml': 'mqtt:\n  password: !secret pw\n' }, (dir) => {
    assert.throws(
      () => loadConfig({ data: dir }, {}, dir),
      /there is no such file; create it with a line like "pw: the-value"/,
    );
  });
  withData({ 'smart-home.yaml': 'mqtt:\n  password: !secret pw\n', 'secrets.yaml': 'ok: 1\npw:\n  - a\n' }, (dir) => {
    assert.throws(() => loadConfig({ data: dir }, {}, dir), /secrets\.yaml:2:1: secret "pw" must be a single value/);
  });
});

test('a value a !secret put in place is written as [secret] in every log line, whichever field holds it', () => {
  withData({ 'smart-home.yaml': 'mqtt:\n  password: !secret pw\n', 'secrets.yaml': 'pw: tr0ub4dor"&3\n' }, (dir) => {
    loadConfig({ data: dir }, {}, dir);
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += String(chunk);
        done();
      },
    });
    const log = createLogger('info', sink);
    log.info({ url: 'https://x/?token=tr0ub4dor"&3', nested: { any: 'tr0ub4dor"&3' } }, 'sent tr0ub4dor"&3');
    assert.match(out, /\[secret\]/);
    assert.doesNotMatch(out, /tr0ub4dor/);
  });
});

test('!secret in automations.yaml: the automation uses the value; the file (and the API text of it) keeps the reference, also after an edit', async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'secrets.yaml'), 'gate_code: "4711-secret"\n');
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    '- id: open_gate\n  triggers:\n    - type: mqtt\n      topic: gate/open\n  actions:\n    - type: publish\n      topic: gate/cmd\n      payload: !secret gate_code\n',
  );
  const h = await startHub({}, dir);
  try {
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('gate/cmd', { qos: 1 });
    await c.publishAsync('gate/open', '1', { qos: 1 });
    const [m] = await got.next(1);
    assert.equal(m!.payload.toString(), '4711-secret');
    assert.match(h.hub.automations.text(), /payload: !secret gate_code/);
    assert.doesNotMatch(h.hub.automations.text(), /4711/);
    const err = await h.hub.automations.put({
      id: 'other',
      triggers: [{ type: 'mqtt', topic: 'x/y' }],
      actions: [{ type: 'publish', topic: 'x/z', payload: 'hi' }],
    });
    assert.equal(err, undefined);
    assert.match(h.hub.automations.text(), /payload: !secret gate_code/, 'the edit kept the reference');
    assert.doesNotMatch(h.hub.automations.text(), /4711/);
    assert.deepEqual(
      h.hub.automations.list().map((a) => a.id),
      ['open_gate', 'other'],
    );
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
