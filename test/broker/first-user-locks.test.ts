// Adding the first user locks the broker at once (issue 15): anonymous clients used to get
// CONNACK 0 until the hub restarted. The user is added straight to the database, as
// `smart-home user add` does from another process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, removeDir, type TestHub } from '../helpers.js';

let h: TestHub;
before(async () => {
  h = await startHub({});
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('the first user refuses new anonymous clients and disconnects the connected ones', async () => {
  const anon = await connect(h.url, { clientId: 'anon-before', reconnectPeriod: 0 });
  const closed = new Promise<void>((r) => anon.once('close', () => r()));
  await h.hub.users.add('admin', 'admin-password', true);
  const refused = await connect(h.url, { clientId: 'anon-after', reconnectPeriod: 0 }).then(
    () => 0,
    (e: Error & { code?: number }) => e.code ?? -1,
  );
  assert.equal(refused, 5, 'CONNACK 5: not authorized');
  await closed; // the one connected before is disconnected (within the broker's 1 s check)
  const user = await connect(h.url, { username: 'admin', password: 'admin-password', reconnectPeriod: 0 });
  user.end(true);
});
