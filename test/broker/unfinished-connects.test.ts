// Connections that never finish CONNECT cannot keep real clients out (issue 14: 1 000 sockets that
// sent one byte each filled max_connections until the 10 s connect timeout). The oldest unfinished
// connection of an address, or of the broker when it is full, makes room for a new one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, removeDir, portOf, waitFor, type TestHub } from '../helpers.js';
import { RawClient } from '../raw-client.js';

let h: TestHub;
before(async () => {
  h = await startHub({});
}); // defaults: max_connections 1000, connect_timeout_ms 10000
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

test('1 000 sockets that sent one byte do not keep a client out; the broker closes them, oldest first', async () => {
  const port = portOf(h.url);
  const loris: RawClient[] = [];
  for (let i = 0; i < 1000; i++) {
    const s = await RawClient.open(port);
    s.sendBytes([0x10]);
    loris.push(s);
  }
  // a real client connects at once, well inside its own 3 s connect timeout (before: refused)
  const c = await connect(h.url, { connectTimeout: 3000, reconnectPeriod: 0 });
  await c.publishAsync('still/served', 'yes', { qos: 1 });
  c.end(true);
  assert.ok(loris[0]!.closed && !loris.at(-1)!.closed, 'the oldest were closed, the newest kept');
  const stats = (h.hub.broker as unknown as { stats: { unfinishedEvicted: number } }).stats;
  assert.ok(stats.unfinishedEvicted >= 1, `${stats.unfinishedEvicted} evicted`);
  for (const s of loris) s.drop();
});

test('a burst of 200 real clients from one address all connect, none closed as unfinished', async () => {
  const broker = h.hub.broker as unknown as { unfinished: { size: number }; stats: { unfinishedEvicted: number } };
  await waitFor(() => broker.unfinished.size === 0, 5000, "the first test's sockets to be gone");
  const before = broker.stats.unfinishedEvicted;
  const clients = await Promise.all(Array.from({ length: 200 }, () => connect(h.url, { reconnectPeriod: 0 })));
  assert.equal(clients.length, 200);
  assert.equal((h.hub.broker as unknown as { stats: { unfinishedEvicted: number } }).stats.unfinishedEvicted, before);
  for (const c of clients) c.end(true);
});
