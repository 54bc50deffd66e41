// Access control end to end: password guessing, ACL bypass attempts through client ids, $SYS
// and wildcards, and the HTTP API without a session or with another user's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHubWithUsers, connect, collect, removeDir, subscribeCodes, type TestHub } from '../helpers.js';
import { ApiClient } from '../api/client.js';

const ACL = `
user alice
topic readwrite home/#
user reader
topic read home/#
topic deny home/secret
user eve
topic read public/#
pattern readwrite devices/%c/#
pattern read users/%u/#
`;

let h: TestHub;
const warnings: string[] = [];
before(async () => {
  h = await startHubWithUsers(
    [
      { name: 'alice', password: 'alice-secret-1', admin: true },
      { name: 'eve', password: 'eve-secret-12' },
      { name: 'reader', password: 'reader-secret-1' },
    ],
    {
      broker: { acl: ACL, auth_failures: { per_user: 3, per_address: 6, window_s: 1.5 } },
      http: { enabled: true, port: 0 },
    },
  );
  // the broker's log, to check what it says about refused logins
  const log = (h.hub as unknown as { broker: { ctx: { log: { warn: (o: unknown, m: string) => void } } } }).broker.ctx
    .log;
  const warn = log.warn.bind(log);
  log.warn = (o: unknown, m: string) => {
    warnings.push(`${JSON.stringify(o)} ${m}`);
    warn(o, m);
  };
  h.hub.authLimiter.now = () => Date.now() + skew;
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

// the lockout windows pass on the limiter's clock, moved forward instead of waited out
let skew = 0;
const later = (ms: number) => {
  skew += ms;
};

const refusal = (url: string, username: string, password: string) =>
  connect(url, { username, password }).then(
    (c) => {
      c.end();
      return 'accepted';
    },
    (e: Error) => e.message,
  );

test('password guessing: each failure is logged; after per_user failures even the right password is refused until the window passes', async () => {
  for (let i = 0; i < 3; i++) assert.match(await refusal(h.url, 'eve', `guess-${i}`), /Bad username or password/);
  assert.match(
    await refusal(h.url, 'eve', 'eve-secret-12'),
    /Not authorized/,
    'locked: the right password does not help',
  );
  assert.equal(
    await refusal(h.url, 'alice', 'alice-secret-1'),
    'accepted',
    'another user from the same address is not locked out',
  );
  const logged = warnings.filter((w) => w.includes('"username":"eve"'));
  assert.equal(
    logged.filter((w) => /bad user name or password/.test(w)).length,
    3,
    'every failure is logged with the user name',
  );
  assert.ok(
    logged.some((w) => /refused without checking the password: 3 failed logins for "eve" from 127\.0\.0\.1/.test(w)),
  );
  assert.ok(
    warnings.every((w) => !w.includes('guess-') && !w.includes('eve-secret')),
    'passwords are never logged',
  );
  later(1600);
  assert.equal(await refusal(h.url, 'eve', 'eve-secret-12'), 'accepted', 'the lockout ends with its window');
});

test('password guessing across many user names is capped per address', async () => {
  later(1600); // the previous test's failures are out of the window
  for (let i = 0; i < 6; i++) await refusal(h.url, `nobody${i}`, 'x');
  assert.match(await refusal(h.url, 'alice', 'alice-secret-1'), /Not authorized/, 'the address is locked');
  later(1600);
  assert.equal(await refusal(h.url, 'alice', 'alice-secret-1'), 'accepted');
});

test('%c cannot be widened by a client id with wildcards or levels', async () => {
  const victim = await connect(h.url, { username: 'eve', password: 'eve-secret-12', clientId: 'lamp' });
  const got = collect(victim); // from before the first attempt: a broker that delivers, then closes, fails
  await victim.subscribeAsync('devices/lamp/#', { qos: 1 });
  for (const clientId of ['#', '+', 'lamp/#', 'x/../lamp', 'lamp/+']) {
    const c = await connect(h.url, { username: 'eve', password: 'eve-secret-12', clientId });
    assert.deepEqual(
      await subscribeCodes(c, ['devices/lamp/#', 'devices/+/state', 'devices/#'], 1),
      [128, 128, 128],
      `client id ${clientId}`,
    );
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('devices/lamp/set', 'hijack', { qos: 1 });
    await closed; // a denied publish closes the connection ([MQTT-3.3.5-2])
  }
  // the device's own message, after every attempt: once it is here, a hijack would have been too
  await victim.publishAsync('devices/lamp/state', 'sentinel', { qos: 1 });
  await got.next(1);
  assert.deepEqual(
    got.messages.map((m) => `${m.topic} ${m.payload}`),
    ['devices/lamp/state sentinel'],
    'nothing reached the real device',
  );
  victim.end();
});

test('%u: a user reads only its own users/<name>/ tree; a wide filter sees only what is readable', async () => {
  const alice = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  await alice.publishAsync('home/x', 'ignored', { qos: 1 });
  const eve = await connect(h.url, { username: 'eve', password: 'eve-secret-12' });
  assert.deepEqual(await subscribeCodes(eve, ['users/eve/#', 'users/alice/#', 'users/+/inbox'], 1), [1, 128, 128]);
  eve.end();
  alice.end();
});

test('$SYS: a client publish there is dropped (acknowledged, not delivered), and a # subscription does not reveal it', async () => {
  const alice = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  await alice.publishAsync('$SYS/broker/version', 'fake', { qos: 1 }); // resolves on its PUBACK
  const eve = await connect(h.url, { username: 'eve', password: 'eve-secret-12' });
  assert.deepEqual(await subscribeCodes(eve, ['$SYS/#'], 0), [128], 'no ACL rule gives eve $SYS');
  assert.ok(alice.connected, 'the publisher stays connected (test/broker/dollar-topics.test.ts: nobody gets the fake)');
  eve.end();
  alice.end();
});

test('read ACL per message: `topic read home/#` with `topic deny home/secret` gets home/# but never home/secret', async () => {
  const reader = await connect(h.url, { username: 'reader', password: 'reader-secret-1' });
  const got = collect(reader);
  assert.deepEqual(
    await subscribeCodes(reader, ['home/#'], 1),
    [1],
    'the wide subscription is granted (Mosquitto does the same)',
  );
  const alice = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  await alice.publishAsync('home/secret', 'pin 1234', { qos: 1 });
  await alice.publishAsync('home/open', 'hello', { qos: 1 });
  await got.next(1);
  assert.deepEqual(
    got.messages.map((m) => `${m.topic} ${m.payload}`),
    ['home/open hello'],
  );
  reader.end();
  alice.end();
});

test("the API: every documented route needs a session or token; a non-admin cannot manage users or revoke others' tokens", async () => {
  const admin = ApiClient.of(h);
  assert.equal((await admin.login('alice', 'alice-secret-1')).status, 200);
  const doc = (await admin.get('/api/docs/json')).body as unknown as { paths: Record<string, Record<string, unknown>> };
  const anon = ApiClient.of(h);
  const open = new Set(['/api/login', '/api/session', '/healthz', '/api/logout']);
  let checked = 0;
  for (const [route, methods] of Object.entries(doc.paths)) {
    if (open.has(route)) continue;
    const path = route.replace(/\{[^}]+\}/g, 'x');
    for (const method of Object.keys(methods)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
      const r = await anon.call(method.toUpperCase(), path, method === 'get' || method === 'delete' ? undefined : {});
      assert.equal(r.status, 401, `${method.toUpperCase()} ${route} without credentials`);
      checked++;
    }
  }
  assert.ok(checked >= 20, `${checked} routes checked`);
  // eve: a plain user
  const eve = ApiClient.of(h);
  await eve.login('eve', 'eve-secret-12');
  assert.equal((await eve.post('/api/users', { name: 'mallory', password: 'mallory-pass', admin: true })).status, 403);
  assert.equal((await eve.del('/api/users/alice')).status, 403);
  assert.equal((await admin.post('/api/tokens', { label: 'alice-cli' })).status, 200);
  const [aliceToken] = (await admin.get('/api/tokens')).body.data as { id: string; label: string }[];
  assert.equal(
    (await eve.del(`/api/tokens/${aliceToken!.id}`)).status,
    404,
    "another user's token is not found for eve",
  );
  assert.equal((await admin.get('/api/tokens')).body.data.length, 1, "alice's token is still there");
  assert.deepEqual((await eve.get('/api/tokens')).body.data, [], "eve does not see alice's tokens");
  // a forged cookie or a guessed bearer token is refused
  assert.equal((await new ApiClient(anon.base, 'Bearer sh_0000000000000000').get('/api/scripts')).status, 401);
  const forged = ApiClient.of(h);
  forged.cookie = 'sh_session=deadbeef';
  assert.equal((await forged.get('/api/scripts')).status, 401);
});
