// A password in a broker URL never reaches logs, the API or the ready banner.
import { test } from 'node:test';
import { freePort, removeDir, serve, tempDir, waitFor } from '../helpers.js';
import assert from 'node:assert/strict';
import { redactUrl } from '../../src/mqtt/topic.js';
import { MqttBus } from '../../src/mqtt/bus.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/log.js';

test('broker URLs are shown without their password', () => {
  assert.equal(redactUrl('mqtt://hub:s3cret@127.0.0.1:1883'), 'mqtt://hub:***@127.0.0.1:1883');
  assert.equal(redactUrl('wss://a:b@broker.example/mqtt'), 'wss://a:***@broker.example/mqtt');
  assert.equal(redactUrl('mqtt://127.0.0.1:1883'), 'mqtt://127.0.0.1:1883');
  const log = createLogger('silent');
  const bus = new MqttBus({
    url: 'mqtts://hub:s3cret@broker.example:8883',
    clientId: 'x',
    publishTimeoutMs: 1000,
    log,
    events: new EventBus(log),
  });
  assert.doesNotMatch(bus.target, /s3cret/);
  assert.equal(bus.connection().connected, false);
});

test('serve --broker with a password: not in the ready banner, the logs or /api/status', async () => {
  const dir = tempDir();
  const httpPort = await freePort();
  // a broker that is not there: the hub starts anyway and keeps trying (and logs the attempts)
  const brokerPort = await freePort();
  const hub = await serve([
    '--data',
    dir,
    '--http-port',
    String(httpPort),
    '--broker',
    `mqtt://hub:s3cret-pw@127.0.0.1:${brokerPort}`,
    '--log-level',
    'debug',
  ]);
  try {
    const status = await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).text();
    assert.match(status, /hub:\*\*\*@127\.0\.0\.1/, 'the target is shown, redacted');
    // a reconnection attempt has been logged by now or soon: wait for the log to say something about the broker
    await waitFor(() => /127\.0\.0\.1:\d+/.test(hub.stderr()), 10000, 'a log line about the broker');
    assert.match(hub.stdout(), /MQTT {2}mqtt:\/\/hub:\*\*\*@127\.0\.0\.1:\d+ \(external broker\)/);
    for (const [what, text] of [
      ['banner', hub.stdout()],
      ['logs', hub.stderr()],
      ['/api/status', status],
    ] as const)
      assert.doesNotMatch(text, /s3cret-pw/, what);
  } finally {
    hub.child.kill('SIGTERM');
    await hub.exited;
    removeDir(dir);
  }
});
