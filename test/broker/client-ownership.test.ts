// A client id belongs to the user who holds it (issue 14): user B connecting with user A's client
// id used to disconnect A and resume A's persistent session, receiving A's queued messages. Now B
// is refused (CONNACK 0x02), A stays connected, and A's queue waits for A.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHubWithUsers, connect, collect, removeDir, roundTrip, type TestHub } from '../helpers.js';

let h: TestHub;
before(async () => {
  h = await startHubWithUsers([
    { name: 'alice', password: 'alice-password' },
    { name: 'bob', password: 'bob-password' },
  ]);
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

const as = (user: string, clientId: string, clean = false) =>
  connect(h.url, { username: user, password: `${user}-password`, clientId, clean, reconnectPeriod: 0 });
const refusedCode = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: Error & { code?: number }) => e.code ?? -1,
  );

test("another user cannot take over a connected client's id", async () => {
  const alice = await as('alice', 'kitchen-tablet', true);
  let closed = false;
  alice.on('close', () => {
    closed = true;
  });
  assert.equal(await refusedCode(as('bob', 'kitchen-tablet', true)), 2);
  await alice.publishAsync('alice/still-here', 'yes', { qos: 1 }); // answered: still connected
  assert.equal(closed, false);
  alice.end(true);
});

test('another user cannot resume a persistent session and read its queued messages; the owner can', async () => {
  const alice = await as('alice', 'alice-phone');
  await alice.subscribeAsync('inbox/alice', { qos: 1 });
  await new Promise<void>((r) => alice.end(false, {}, () => r()));
  const sender = await as('bob', 'bob-sender', true);
  await sender.publishAsync('inbox/alice', 'for alice only', { qos: 1 });
  sender.end(true);
  assert.equal(await refusedCode(as('bob', 'alice-phone')), 2, 'persistent session');
  assert.equal(await refusedCode(as('bob', 'alice-phone', true)), 2, 'a clean session would wipe it');
  const back = await connect(
    h.url,
    { username: 'alice', password: 'alice-password', clientId: 'alice-phone', clean: false, reconnectPeriod: 0 },
    (c) => collect(c),
  );
  const got = collect(back);
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), 'for alice only');
  back.end(true);
  await roundTrip(h.url.replace('mqtt://', 'mqtt://alice:alice-password@'));
});

test('a clean session leaves nothing to own: the id is free for anyone after it ends', async () => {
  const a = await as('alice', 'shared-display', true);
  await new Promise<void>((r) => a.end(false, {}, () => r()));
  const b = await as('bob', 'shared-display', true);
  b.end(true);
});
