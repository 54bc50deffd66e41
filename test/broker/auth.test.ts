// Users, passwords and Mosquitto-style ACLs on the embedded broker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { UserStore } from '../../src/store/users.js';
import { startHubWithUsers, connect, collect, removeDir, subscribeCodes, type TestHub } from '../helpers.js';

const ACL = `
# anonymous: nothing
user alice
topic readwrite home/#
topic readwrite status/#
user bob
topic write home/bob/cmd
pattern readwrite devices/%u/#
`;

let h: TestHub;
before(async () => {
  h = await startHubWithUsers(
    [
      { name: 'alice', password: 'alice-secret-1' },
      { name: 'bob', password: 'bob-secret-12' },
    ],
    { broker: { acl: ACL } },
  );
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('passwords are stored as scrypt hashes, never in clear', () => {
  const rows = h.hub.db.prepare('SELECT name, password_hash FROM users').all() as {
    name: string;
    password_hash: string;
  }[];
  assert.equal(rows.length, 2);
  for (const r of rows) {
    assert.match(r.password_hash, /^scrypt\$/);
    assert.ok(!r.password_hash.includes('secret'));
  }
});

test('a user with the right password is accepted', async () => {
  const c = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  assert.ok(c.connected);
  c.end();
});

test('a wrong password is refused with CONNACK 4 (bad user name or password) [MQTT-3.2.2-6]', async () => {
  await assert.rejects(connect(h.url, { username: 'alice', password: 'wrong-password' }), /Bad username or password/i);
  assert.ok(h.hub.broker!.stats.authFailures >= 1);
});

test('an unknown user is refused', async () => {
  await assert.rejects(connect(h.url, { username: 'mallory', password: 'whatever1' }), /Bad username or password/i);
});

test('anonymous clients are refused once users exist', async () => {
  await assert.rejects(connect(h.url), /Not authorized/i);
});

test("ACL: a subscribe outside the user's rules gets return code 0x80", async () => {
  const c = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  assert.deepEqual(await subscribeCodes(c, ['home/#', 'secret/#', 'status/x']), [0, 128, 0]);
  c.end();
});

test('ACL: a denied publish is not delivered (the publisher is disconnected) and is logged', async () => {
  const alice = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  const got = collect(alice);
  await alice.subscribeAsync('status/#');
  const bob = await connect(h.url, { username: 'bob', password: 'bob-secret-12' });
  const closed = new Promise<void>((r) => bob.once('close', () => r()));
  bob.publish('status/fake', 'should not arrive');
  await closed;
  const denied = h.hub.broker!.stats.deniedPublish;
  assert.ok(denied >= 1);
  const carol = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  await carol.publishAsync('status/real', 'arrives', { qos: 1 });
  await got.next(1); // published after the denied one: that one would have come first
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['arrives'],
  );
  alice.end();
  carol.end();
  bob.end(true);
});

test('ACL: read access is checked per message, so a wide subscription sees only readable topics', async () => {
  const bob = await connect(h.url, { username: 'bob', password: 'bob-secret-12' });
  const got = collect(bob);
  // bob may read devices/bob/#; a subscription to devices/+/state is narrower than no rule, so it is refused...
  const granted = await bob.subscribeAsync(['devices/bob/#']);
  assert.deepEqual(
    granted.map((g) => g.qos),
    [0],
  );
  const alice = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  await bob.publishAsync('devices/bob/state', 'mine', { qos: 1 });
  await got.next(1);
  assert.equal(got.messages[0]!.payload.toString(), 'mine');
  alice.end();
  bob.end();
});

test('ACL: %u in a pattern cannot be widened by a user name with wildcards', async () => {
  // The user store refuses such names outright...
  assert.throws(() => UserStore.checkName('a/#'), /not allowed/);
  assert.throws(() => UserStore.checkName('+'), /not allowed/);
  await assert.rejects(h.hub.users.add('a/#', 'long-enough-pw'), /not allowed/);
  // ...and the ACL in force would not expand one (a name from before that rule, say) either
  const acl = h.hub.mqttAcl!;
  assert.ok(acl.allowed('bob', 'c', 'devices/bob/lamp', 'read'), 'the pattern works for a plain name');
  for (const name of ['a/#', '+', '#', 'bob/#']) {
    assert.ok(!acl.allowed(name, 'c', 'devices/bob/lamp', 'read'), `user ${name} reads no one else's devices`);
    assert.ok(!acl.allowed(name, 'c', `devices/${name}`, 'write'), `user ${name} writes nothing through %u`);
  }
});

test('ACL: a client may write only where a rule allows it (write-only rule)', async () => {
  const alice = await connect(h.url, { username: 'alice', password: 'alice-secret-1' });
  const got = collect(alice);
  await alice.subscribeAsync('home/bob/cmd');
  const bob = await connect(h.url, { username: 'bob', password: 'bob-secret-12' });
  await bob.publishAsync('home/bob/cmd', 'go', { qos: 1 });
  await got.next(1);
  assert.equal(got.messages[0]!.payload.toString(), 'go');
  // ...but bob cannot read it back: write-only
  assert.deepEqual(await subscribeCodes(bob, ['home/bob/cmd']), [128]);
  alice.end();
  bob.end();
});
