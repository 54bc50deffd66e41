// One limiter for every way of presenting a password (issue 14): HTTP Basic was not limited at all
// (40 guesses in 5 s, then success) and ignored the MQTT lockout of the same user.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startHub, type TestHub } from '../helpers.js';
import { ApiClient } from './client.js';

let t: TestHub;
before(async () => {
  t = await startHub({
    http: { enabled: true, port: 0 },
    broker: { auth_failures: { per_user: 5, per_address: 100, window_s: 300 } },
  });
  await t.hub.users.add('alice', 'right password', true);
});
after(async () => t.stop());

const basic = (user: string, password: string) =>
  new ApiClient(t.hub.api!.url, `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);

test('HTTP Basic guesses are limited, and the lockout holds for MQTT logins of the same user too', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await basic('alice', `guess ${i}`).get('/api/scripts')).status);
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
  const right = await basic('alice', 'right password').get('/api/scripts');
  assert.equal(right.status, 429, 'even the right password waits out the window');
  assert.equal(right.body.error!.code, 'TOO_MANY_FAILURES');
  const login = await ApiClient.of(t).login('alice', 'right password');
  assert.equal(login.status, 429, 'the login form shares the limit');
  const code = await new Promise<number>((resolve) => {
    const c = mqtt.connect(t.url, { username: 'alice', password: 'right password', reconnectPeriod: 0 });
    c.on('connect', () => {
      c.end(true);
      resolve(0);
    });
    c.on('error', (e: Error & { code?: number }) => {
      c.end(true);
      resolve(e.code ?? -1);
    });
  });
  assert.equal(code, 5, 'MQTT refuses alice from this address as well (CONNACK 5)');
  assert.equal(
    (await basic('bob', 'x').get('/api/scripts')).status,
    401,
    'another user from the address is not locked out',
  );
});
