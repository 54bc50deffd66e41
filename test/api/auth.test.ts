// API auth: open only while the hub has no users and listens on loopback; then sessions
// (httpOnly SameSite cookie + CSRF token), bearer tokens, rate-limited login, admin-only users.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { startHub, type TestHub } from '../helpers.js';
import { ApiClient } from './client.js';

let t: TestHub;
before(async () => {
  t = await startHub({ http: { enabled: true, port: 0 } });
});
after(async () => t.stop());

test('without users on loopback the API is open; from the first user on it needs credentials (except /healthz)', async () => {
  const anon = ApiClient.of(t);
  assert.equal((await anon.get('/api/session')).body.data.loginRequired, false);
  assert.equal((await anon.get('/api/scripts')).status, 200);
  // another web site cannot drive the open local API, nor reach it through a rebound DNS name
  const crossSite = await anon.call('POST', '/api/automations/reload', undefined, { origin: 'http://evil.example' });
  assert.deepEqual([crossSite.status, crossSite.body.error?.code], [403, 'BAD_ORIGIN']);
  // (fetch does not let a caller set Host, so plain http)
  const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(`${anon.base}/api/scripts`);
    http
      .get({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: `evil.example:${u.port}` } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /BAD_HOST/);
  assert.equal((await anon.post('/api/users', { name: 'admin', password: 'correct horse', admin: true })).status, 201);
  await t.hub.users.add('bob', 'bob-password');
  for (const path of [
    '/api/scripts',
    '/api/entities',
    '/api/mqtt/topics',
    '/api/users',
    '/metrics',
    '/api/docs/json',
  ]) {
    const r = await anon.get(path);
    assert.equal(r.status, 401, path);
  }
  assert.equal((await anon.post('/api/mqtt/publish', { topic: 'a', payload: 'b' })).status, 401);
  assert.equal((await anon.get('/healthz')).status, 200);
  const s = await anon.get('/api/session');
  assert.deepEqual([s.status, s.body.data.user, s.body.data.loginRequired], [200, null, true]);
  await assert.rejects(anon.events(['mqtt']), /401/);
});

test('login sets an httpOnly SameSite=Strict cookie; state changes need the CSRF token; logout ends the session', async () => {
  const c = ApiClient.of(t);
  const bad = await c.login('admin', 'wrong password');
  assert.equal(bad.status, 401);
  const r = await c.login('admin', 'correct horse');
  assert.equal(r.status, 200);
  const cookie = r.headers.get('set-cookie')!;
  assert.match(cookie, /HttpOnly/i);
  assert.match(cookie, /SameSite=Strict/i);
  assert.doesNotMatch(cookie, /correct horse/);
  assert.equal((await c.get('/api/scripts')).status, 200);
  const csrf = c.csrf;
  c.csrf = '';
  const forged = await c.put('/api/scripts/x.js', { source: '' });
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error!.code, 'CSRF');
  c.csrf = csrf;
  assert.equal((await c.put('/api/scripts/x.js', { source: '' })).status, 200);
  const crossSite = await c.call('GET', '/api/scripts', undefined, { origin: 'http://evil.example' });
  assert.equal(crossSite.status, 403);
  await assert.rejects(c.events(['mqtt'], '#', { origin: 'http://evil.example' }), /403/);
  const live = await c.events(['logs']);
  live.ws.close();
  assert.equal((await c.post('/api/logout')).status, 200);
  c.cookie = r.headers.get('set-cookie')!.split(';')[0]!; // the old cookie, replayed
  assert.equal((await c.get('/api/scripts')).status, 401);
});

test('bearer tokens: shown once, stored hashed, revocable; another user cannot revoke them', async () => {
  const bob = ApiClient.of(t);
  await bob.login('bob', 'bob-password');
  const created = await bob.post('/api/tokens', { label: 'ci' });
  const token = created.body.data.token as string;
  const dbText = readFileSync(`${t.dir}/smart-home.db`).toString('latin1');
  assert.ok(!dbText.includes(token), 'the secret is not in the database');
  const viaToken = new ApiClient(bob.base, `Bearer ${token}`);
  assert.equal((await viaToken.get('/api/scripts')).status, 200);
  assert.equal(
    (await viaToken.post('/api/mqtt/publish', { topic: 'tok/en', payload: 'x' })).status,
    200,
    'no CSRF needed without a cookie',
  );
  const [info] = (await bob.get('/api/tokens')).body.data;
  const admin = ApiClient.of(t);
  await admin.login('admin', 'correct horse');
  assert.equal((await admin.del(`/api/tokens/${info.id}`)).status, 404, "admin's own tokens only");
  assert.equal((await bob.del(`/api/tokens/${info.id}`)).status, 200);
  assert.equal((await viaToken.get('/api/scripts')).status, 401);
  assert.equal((await new ApiClient(bob.base, 'Bearer not-a-token').get('/api/scripts')).status, 401);
});

test('only admins manage users; a removed user loses their sessions', async () => {
  const bob = ApiClient.of(t);
  await bob.login('bob', 'bob-password');
  assert.equal((await bob.get('/api/users')).status, 403);
  assert.equal(
    (await bob.post('/api/users', { name: 'mallory', password: 'mallory-password', admin: true })).status,
    403,
  );
  const admin = ApiClient.of(t);
  await admin.login('admin', 'correct horse');
  const users = await admin.get('/api/users');
  assert.deepEqual(
    users.body.data.map((u: any) => [u.name, u.admin]),
    [
      ['admin', true],
      ['bob', false],
    ],
  );
  assert.ok(!JSON.stringify(users.body).includes('scrypt'), 'no password hashes in replies');
  assert.equal((await admin.del('/api/users/bob')).status, 200);
  assert.equal((await bob.get('/api/scripts')).status, 401);
  assert.equal((await admin.del('/api/users/bob')).status, 404);
});

test('login is rate limited per address', async () => {
  const c = ApiClient.of(t);
  const codes: number[] = [];
  for (let i = 0; i < 12; i++) codes.push((await c.login('admin', `guess ${i}`)).status);
  assert.ok(codes.includes(429), `statuses: ${codes.join(' ')}`);
  const limited = await c.login('admin', 'correct horse');
  assert.equal(limited.status, 429, 'even the right password waits out the window');
  assert.match(limited.body.error?.message ?? (limited.body as any).message, /rate|retry|limit/i);
  assert.equal(limited.body.error?.code, 'RATE_LIMITED');
});
