// The hub's own connection gets the granted-QoS rule too (issue 15): with the MQTT explorer open
// (subscribed to # at QoS 0 on the hub's connection), a QoS 1 message reached a script's handler
// with m.qos 0. [MQTT-3.3.5-1]: delivered at the highest QoS granted by a matching subscription.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, collect, removeDir, type TestHub } from '../helpers.js';

let h: TestHub;
before(async () => {
  h = await startHub({});
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('[MQTT-3.3.5-1] a QoS 1 message reaches a script at QoS 1 while the explorer watches # at QoS 0', async () => {
  const stop = await h.hub.explorer.watch();
  await h.hub.scripts.load(
    '/scripts/qos.js',
    {},
    "Mqtt.subscribe('q/in', (m) => Mqtt.publish('q/out', 'qos ' + m.qos, 1));",
  );
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('q/out', { qos: 1 });
  await c.publishAsync('q/in', 'x', { qos: 1 });
  assert.equal((await got.next(1))[0]!.payload.toString(), 'qos 1');
  const seen = h.hub.explorer.snapshot().find((m) => m.topic === 'q/in');
  assert.equal(seen?.qos, 1, 'the explorer shows the QoS it was published with');
  stop();
  c.end();
});
