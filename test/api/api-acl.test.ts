// The broker's ACL and the caller's role apply to the API (issue 14): a user denied a topic over
// MQTT could publish there through POST /api/mqtt/publish and read all traffic through the topic
// tree, the trace and the live events; any user could rewrite the scripts (which publish
// anywhere). Tokens carry a scope (read, user, admin) and an optional expiry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHubWithUsers, connect, removeDir, type TestHub } from '../helpers.js';
import { ApiClient } from './client.js';

const ACL = `
user alice
topic readwrite #
user eve
topic readwrite home/public/#
`;

let h: TestHub;
const basic = (user: string, password: string) =>
  new ApiClient(h.hub.api!.url, `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
let alice: ApiClient;
let eve: ApiClient;
before(async () => {
  h = await startHubWithUsers(
    [
      { name: 'alice', password: 'alice-password', admin: true },
      { name: 'eve', password: 'eve-password' },
    ],
    { broker: { acl: ACL }, http: { enabled: true, port: 0 } },
  );
  alice = basic('alice', 'alice-password');
  eve = basic('eve', 'eve-password');
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('a non-admin publishes through the API only where the broker ACL lets it write', async () => {
  const denied = await eve.post('/api/mqtt/publish', { topic: 'home/secret/door', payload: 'open' });
  assert.deepEqual([denied.status, denied.body.error?.code, denied.body.error?.field], [403, 'ACL_DENIED', 'topic']);
  assert.equal((await eve.post('/api/mqtt/publish', { topic: 'home/public/lamp', payload: 'on' })).status, 200);
  assert.equal(
    (await alice.post('/api/mqtt/publish', { topic: 'home/secret/door', payload: 'closed' })).status,
    200,
    'admins are not limited',
  );
});

test('the topic tree, the trace and the live events show a non-admin only what it may read', async () => {
  const c = await connect(h.url, { username: 'alice', password: 'alice-password' });
  await c.publishAsync('home/secret/code', '1234', { qos: 1, retain: true });
  await c.publishAsync('home/public/temp', '21', { qos: 1, retain: true });
  const topics = (await eve.get('/api/mqtt/topics')).body.data.map((m: { topic: string }) => m.topic);
  assert.ok(topics.includes('home/public/temp'), topics.join(' '));
  assert.ok(!topics.some((t: string) => t.startsWith('home/secret')), topics.join(' '));
  const allTopics = (await alice.get('/api/mqtt/topics')).body.data.map((m: { topic: string }) => m.topic);
  assert.ok(allTopics.includes('home/secret/code'), 'an admin sees everything');
  const trace = (await eve.get('/api/mqtt/trace')).body.data.map((e: { topic: string }) => e.topic);
  assert.ok(
    trace.includes('home/public/lamp') && !trace.some((t: string) => t.startsWith('home/secret')),
    trace.join(' '),
  );
  const live = await eve.events(['mqtt'], '#');
  // the secret one is published first: had it been sent, it would be there before the public one
  await c.publishAsync('home/secret/live', 'no', { qos: 1 });
  await c.publishAsync('home/public/live', 'yes', { qos: 1 });
  await live.next((e) => e.stream === 'mqtt' && e.data.topic === 'home/public/live');
  assert.ok(
    !live.events.some((e) => e.stream === 'mqtt' && String(e.data.topic).startsWith('home/secret')),
    JSON.stringify(live.events.map((e) => e.data?.topic)),
  );
  live.ws.close();
  c.end();
});

test('a non-admin reads scripts and automations and runs entity actions, but changes no script and makes no dry run', async () => {
  assert.equal((await eve.get('/api/scripts')).status, 200);
  assert.equal((await eve.get('/api/automations')).status, 200);
  const action = await eve.post('/api/entities/light.none/actions/on', {});
  assert.deepEqual(
    [action.status, action.body.error?.code],
    [404, 'UNKNOWN_ENTITY'],
    'allowed to try (the entity does not exist)',
  );
  for (const [method, path, body] of [
    ['PUT', '/api/scripts/escalate.js', { source: "Mqtt.publish('home/secret/x', 'via a script');" }],
    ['DELETE', '/api/scripts/escalate.js', undefined],
    ['PUT', '/api/automations/file', { text: '[]' }],
    ['GET', '/api/mqtt/clients', undefined],
    ['POST', '/api/automations/any/runs/1/replay', undefined],
    ['POST', '/api/dry-run', { script: 'escalate.js', message: { topic: 'home/secret/x', payload: '1' } }],
  ] as const) {
    const r = await eve.call(method, path, body);
    assert.deepEqual([r.status, r.body.error?.code], [403, 'FORBIDDEN'], `${method} ${path}`);
  }
});

test('tokens: scope read only reads, scope user acts as a non-admin, and an expired token is refused', async () => {
  const readToken = (await alice.post('/api/tokens', { label: 'dashboard', scope: 'read' })).body.data.token as string;
  const reader = new ApiClient(h.hub.api!.url, `Bearer ${readToken}`);
  assert.equal((await reader.get('/api/scripts')).status, 200);
  const write = await reader.post('/api/mqtt/publish', { topic: 'home/public/x', payload: '1' });
  assert.deepEqual([write.status, write.body.error?.code], [403, 'READ_ONLY_TOKEN']);
  const userToken = (await alice.post('/api/tokens', { scope: 'user' })).body.data.token as string;
  const asUser = new ApiClient(h.hub.api!.url, `Bearer ${userToken}`);
  assert.equal(
    (await asUser.put('/api/scripts/x.js', { source: '' })).status,
    403,
    "an admin's user-scoped token is no admin",
  );
  const escalate = await eve.post('/api/tokens', { scope: 'admin' });
  assert.deepEqual([escalate.status, escalate.body.error?.field], [403, 'scope']);
  const listed = (await alice.get('/api/tokens')).body.data as { scope: string }[];
  assert.deepEqual(listed.map((t) => t.scope).sort(), ['read', 'user']);
  const shortLived = (await alice.post('/api/tokens', { expires_in_days: 1 })).body.data.token as string;
  const soon = new ApiClient(h.hub.api!.url, `Bearer ${shortLived}`);
  assert.equal((await soon.get('/api/scripts')).status, 200);
  const [row] = (await alice.get('/api/tokens')).body.data.filter((t: { expiresAt?: number }) => t.expiresAt) as {
    expiresAt: number;
  }[];
  assert.ok(row && row.expiresAt > Date.now() && row.expiresAt <= Date.now() + 86_400_000);
  h.hub.db
    .prepare("UPDATE api_sessions SET expires_at = ? WHERE kind = 'token' AND expires_at IS NOT NULL")
    .run(Date.now() - 1);
  assert.equal((await soon.get('/api/scripts')).status, 401, 'expired');
});
