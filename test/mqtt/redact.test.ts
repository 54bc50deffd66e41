// A password in a broker URL never reaches logs, the API or the ready banner.
import { test } from 'node:test';
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
  const bus = new MqttBus({ url: 'mqtts://hub:s3cret@broker.example:8883', clientId: 'x', publishTimeoutMs: 1000, log, events: new EventBus(log) });
  assert.doesNotMatch(bus.target, /s3cret/);
  assert.equal(bus.connection().connected, false);
});
