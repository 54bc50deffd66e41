// External broker mode against Debian's Mosquitto on a loopback port, and MqttBus failure codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import mqttPacket from 'mqtt-packet';
import {
  startHub,
  connect,
  collect,
  freePort,
  tempDir,
  removeDir,
  waitFor,
  runCli,
  startMosquitto,
} from '../helpers.js';
import { MqttBus, MqttError } from '../../src/mqtt/bus.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/log.js';

const exec = promisify(execFile);
let mosquitto: { url: string; stop(): Promise<void> };
let url: string;
let dir: string;

before(async () => {
  dir = tempDir();
  mosquitto = await startMosquitto();
  url = mosquitto.url;
});
after(async () => {
  await mosquitto.stop();
  removeDir(dir);
});

test('with mqtt.url the hub uses the external Mosquitto: no embedded broker, scripts publish and subscribe there', async () => {
  const h = await startHub({ mqtt: { url } });
  try {
    assert.equal(h.hub.broker, undefined);
    assert.deepEqual(h.hub.listeners, []);
    const c = await connect(url);
    const got = collect(c);
    await c.subscribeAsync('ext/#', { qos: 1 });
    const s = await h.hub.scripts.load(
      '/scripts/ext.js',
      {},
      `
      Mqtt.subscribe('ext/in', (m) => Mqtt.publish('ext/out', 'echo ' + m.payload, 1));
      Mqtt.publish('ext/hello', 'from a script', 2, false).then(() => console.log('pubcomp'));
    `,
    );
    await waitFor(() => s.logs.length >= 1);
    assert.deepEqual(
      s.logs.map((l) => l.message),
      ['pubcomp'],
    );
    await new Promise((r) => setTimeout(r, 100));
    await c.publishAsync('ext/in', 'ping', { qos: 1 });
    await got.next(3);
    assert.deepEqual(
      got.messages.map((m) => `${m.topic} ${m.payload}`),
      ['ext/hello from a script', 'ext/in ping', 'ext/out echo ping'],
    );
    c.end();
  } finally {
    await h.stop();
    removeDir(h.dir);
  }
});

test('smart-home run --broker sends the seed example to Mosquitto, retained at QoS 1', async () => {
  const f = path.join(dir, 'light.js');
  writeFileSync(f, "Mqtt.publish('smart-home/living-room/light', 'on', 1, true);\n");
  const r = await runCli(['run', f, '--broker', url]);
  assert.equal(r.code, 0, r.stderr);
  const { stdout } = await exec('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    new URL(url).port,
    '-t',
    'smart-home/living-room/light',
    '-C',
    '1',
    '-W',
    '5',
    '-F',
    '%p %r',
  ]);
  assert.equal(stdout.trim(), 'on 1');
});

test('run against a broker that is not there fails with exit 1 and says which', async () => {
  const port = await freePort();
  const f = path.join(dir, 'x.js');
  writeFileSync(f, "Mqtt.publish('a', 'b');\n");
  const r = await runCli(['run', f, '--broker', `mqtt://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`cannot connect to mqtt://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
});

test('MqttBus: a QoS 1 publish that is never acknowledged rejects with TIMEOUT; a closed bus with NOT_CONNECTED', async () => {
  // A stand-in broker (this module's unit test): accepts CONNECT, never acknowledges a PUBLISH.
  const server = net.createServer((sock) => {
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => {
      if (p.cmd === 'connect')
        sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
    });
    sock.on('data', (d) => parser.parse(d));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const log = createLogger('silent');
  const bus = new MqttBus({
    url: `mqtt://127.0.0.1:${port}`,
    clientId: 't',
    publishTimeoutMs: 300,
    log,
    events: new EventBus(log),
  });
  try {
    await bus.start();
    const started = Date.now();
    await assert.rejects(
      bus.publish('a/b', Buffer.from('x'), { qos: 1, retain: false }),
      (e: unknown) =>
        e instanceof MqttError &&
        e.code === 'TIMEOUT' &&
        /no PUBACK from mqtt:\/\/127\.0\.0\.1:\d+ within 300 ms/.test(e.message),
    );
    assert.ok(Date.now() - started >= 250);
    await bus.stop();
    await assert.rejects(
      bus.publish('a/b', Buffer.from('x'), { qos: 0, retain: false }),
      (e: unknown) => e instanceof MqttError && e.code === 'NOT_CONNECTED',
    );
  } finally {
    await bus.stop();
    server.close();
  }
});

test('a burst of 3 000 publishes to the external broker is no "memory leak" warning: the writes waiting for the socket to drain are bounded by the hub, not by EventEmitter', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  const h = await startHub({ mqtt: { url } });
  try {
    const c = await connect(url);
    let got = 0;
    c.on('message', () => got++);
    await c.subscribeAsync('burst/#', { qos: 0 });
    const s = await h.hub.scripts.load(
      '/scripts/burst.js',
      {},
      `const body = 'x'.repeat(200);
      const all = [];
      for (let i = 0; i < 3000; i++) all.push(Mqtt.publish('burst/' + (i % 10), body, 0, false));
      Promise.all(all).then(() => console.log('sent'));`,
    );
    await waitFor(() => s.logs.some((l) => l.message === 'sent'), 20_000);
    await waitFor(() => got === 3000, 20_000);
    c.end(true);
    assert.deepEqual(
      warnings.filter((w) => /MaxListeners/.test(w)),
      [],
    );
  } finally {
    process.off('warning', onWarning);
    await h.stop();
  }
});
