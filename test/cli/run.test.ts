// `smart-home run` and `action` as a user meets them: they find the running hub however it was
// started, a subscribing script does not hang the terminal, a TypeScript script with type errors
// is refused as the UI refuses it, and a closed pipe ends the output quietly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CLI,
  cleanEnv,
  collect,
  connect,
  freePort,
  removeDir,
  runCli,
  serve,
  tempDir,
  type Served,
} from '../helpers.js';

let dir: string;
let hub: Served;
let mqttPort: number;
before(async () => {
  dir = tempDir();
  mqttPort = await freePort();
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    'entities:\n  - id: light.desk\n    script: desk.js\n    actions: [on]\n',
  );
  mkdirSync(path.join(dir, 'scripts'));
  writeFileSync(path.join(dir, 'scripts', 'desk.js'), "Mqtt.publish('desk/set', { state: actionName }, 1);\n");
  // started with flags only: `run` and `action` get nothing but the data dir
  hub = await serve(['--data', dir, '--mqtt-port', String(mqttPort), '--http-port', String(await freePort())]);
});
after(async () => {
  hub.child.kill('SIGTERM');
  await hub.exited;
  removeDir(dir);
});

const script = (name: string, source: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, source);
  return f;
};

test('run and action reach a hub started with --mqtt-port / --http-port, from its data dir alone', async () => {
  const c = await connect(hub.url);
  const got = collect(c);
  await c.subscribeAsync(['found/it', 'desk/set'], { qos: 1 });
  const r = await runCli(['run', script('found.js', "Mqtt.publish('found/it', 'yes', 1);\n"), '--data', dir]);
  assert.equal(r.code, 0, r.stderr);
  const a = await runCli(['action', 'light.desk', 'on', '--data', dir]);
  assert.equal(a.code, 0, a.stderr);
  const messages = await got.next(2);
  assert.deepEqual(messages.map((m) => `${m.topic} ${m.payload}`).sort(), ['desk/set {"state":"on"}', 'found/it yes']);
  c.end();
});

test('a port given as SMART_HOME_MQTT_PORT wins over data/hub.json, as the flag does', async () => {
  const dead = await freePort();
  const r = await runCli(['run', script('env.js', "Mqtt.publish('x', 'y');\n"), '--data', dir], {
    env: { SMART_HOME_MQTT_PORT: String(dead) },
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`cannot reach the broker at mqtt://127\\.0\\.0\\.1:${dead} \\(from the config in `),
  );
});

test('with no running hub in the data dir, run says where it looked and what to pass', async () => {
  const empty = tempDir();
  try {
    writeFileSync(
      path.join(empty, 'smart-home.yaml'),
      `broker:\n  listeners:\n    - { type: tcp, host: 127.0.0.1, port: ${await freePort()} }\n`,
    );
    const r = await runCli(['run', script('nohub.js', "Mqtt.publish('x', 'y');\n"), '--data', empty]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot reach the broker at mqtt:\/\/127\.0\.0\.1:\d+ \(from the config in .* \(no running hub found there\)\).*--broker URL or the same --mqtt-port/,
    );
    const a = await runCli(['action', 'light.desk', 'on', '--data', empty]);
    assert.equal(a.code, 1);
    assert.match(
      a.stderr,
      /cannot reach the hub at http:\/\/127\.0\.0\.1:8080: .*no running hub found there.*--url or the same --http-port/,
    );
  } finally {
    removeDir(empty);
  }
});

test('a script that subscribes: run exits when its top level and publishes are done, and says its subscriptions end', async () => {
  const f = script('listens.js', "Mqtt.subscribe('never/comes', () => {});\nMqtt.publish('listens/ready', 'ok', 1);\n");
  const r = await runCli(['run', f, '--data', dir], { timeoutMs: 15000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /listens\.js: done; its 1 subscription\(s\) end here \(run with --watch/);
});

test('run --watch handles messages until --timeout (or Ctrl-C)', async () => {
  const f = script('echo.js', "Mqtt.subscribe('echo/in', (m) => Mqtt.publish('echo/out', m.payload, 1));\n");
  const c = await connect(hub.url);
  const got = collect(c);
  await c.subscribeAsync('echo/out', { qos: 1 });
  const child = spawn(process.execPath, [CLI, 'run', f, '--data', dir, '--watch', '--timeout', '20s'], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // the script is subscribed once the broker lists its client with the filter
  const ready = async () => {
    for (const deadline = Date.now() + 10000; Date.now() < deadline; ) {
      await c.publishAsync('echo/in', 'ping', { qos: 1 });
      if (got.messages.length > 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the watching script never answered');
  };
  await ready();
  assert.equal(got.messages[0]!.payload.toString(), 'ping');
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  c.end();
});

test('run refuses a TypeScript script with type errors, as the editor does, and publishes nothing', async () => {
  const c = await connect(hub.url);
  const got = collect(c);
  await c.subscribeAsync('typed/#', { qos: 1 });
  const f = script('typed.ts', "const n: number = 'three';\nMqtt.publish('typed/out', String(n), 1);\n");
  const r = await runCli(['run', f, '--data', dir]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /typed\.ts:1:7: TypeError: Type 'string' is not assignable to type 'number'|typed\.ts:1:7: .*not assignable to type 'number'/,
  );
  assert.match(r.stderr, /typed\.ts: not run/);
  // a later message on the same filter arrives; the refused script's never did
  await c.publishAsync('typed/probe', 'x', { qos: 1 });
  await got.next(1);
  assert.deepEqual(
    got.messages.map((m) => m.topic),
    ['typed/probe'],
  );
  c.end();
});

test('a closed pipe (`automations | head`) ends the output without a stack trace', async () => {
  const child = spawn(process.execPath, [CLI, 'automations', '--data', dir], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy(); // the reader is gone before the first line is written
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
