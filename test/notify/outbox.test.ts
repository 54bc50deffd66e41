// The notification outbox: per-target rate (none dropped, the rest wait their turn), order per
// target, backoff growing to retry_max_s, and rows that outlive the process (kill -9) and are
// sent after the restart. Time is mock time here; the kill -9 test waits on what the server saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../../src/store/db.js';
import { createLogger } from '../../src/log.js';
import { configSchema } from '../../src/config/schema.js';
import { Notifier } from '../../src/notify/notifier.js';
import { DeliveryFailure } from '../../src/notify/targets.js';
import { freePort, removeDir, serve, tempDir, waitFor } from '../helpers.js';
import { startFakeServices } from '../fixtures/notify-servers.js';

function notifyConfig(extra: Record<string, unknown> = {}) {
  return configSchema.parse({
    notify: {
      targets: { hook: { type: 'webhook', url: 'http://127.0.0.1:9/hook', rate_per_minute: 2 } },
      ...extra,
    },
  }).notify;
}

/** Lets the promise callbacks of a delivery run (mock timers do not move microtasks). */
const settle = () => new Promise<void>((r) => setImmediate(r));

test('past rate_per_minute the next notifications wait for the window, in order, and none is dropped', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const db = openDatabase(':memory:');
  const sent: string[] = [];
  const n = new Notifier({
    db,
    config: notifyConfig(),
    log: createLogger('silent'),
    deliver: async (_name, _t, msg) => {
      sent.push(msg.message);
    },
  });
  n.start();
  const results = ['one', 'two', 'three', 'four'].map((m) => n.send('hook', m, {}, 'test').done);
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(sent, ['one', 'two'], 'two in the first minute');
  t.mock.timers.tick(59_000);
  await settle();
  assert.deepEqual(sent, ['one', 'two'], 'still the same minute');
  t.mock.timers.tick(1_000);
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(sent, ['one', 'two', 'three', 'four']);
  assert.deepEqual(
    (await Promise.all(results)).map((r) => r.attempts),
    [1, 1, 1, 1],
  );
  await n.stop();
  db.close();
});

test('a failing target is tried again after retry_base_s, then twice as long each time, up to retry_max_s; its next notifications wait behind it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 5_000_000 });
  const db = openDatabase(':memory:');
  const tries: { message: string; at: number }[] = [];
  let down = 4;
  const n = new Notifier({
    db,
    config: notifyConfig({
      retry_base_s: 10,
      retry_max_s: 30,
      max_attempts: 10,
      targets: { hook: { type: 'webhook', url: 'http://127.0.0.1:9/hook', rate_per_minute: 100 } },
    }),
    log: createLogger('silent'),
    deliver: async (_name, _t, msg) => {
      tries.push({ message: msg.message, at: Date.now() });
      if (msg.message === 'first' && down-- > 0) throw new DeliveryFailure('503', false);
    },
  });
  n.start();
  const first = n.send('hook', 'first', {}, 'test').done;
  n.send('hook', 'second', {}, 'test');
  await settle();
  // waits of 10, 20, 30 (capped), 30 s, each within ±20 %: step the clock a second at a time
  for (let s = 0; s < 200 && tries.length < 6; s++) {
    t.mock.timers.tick(1000);
    await settle();
    await settle();
  }
  assert.deepEqual(
    tries.map((x) => x.message),
    ['first', 'first', 'first', 'first', 'first', 'second'],
  );
  const gaps = tries.slice(1, 5).map((x, i) => (x.at - tries[i]!.at) / 1000);
  const expected = [10, 20, 30, 30];
  gaps.forEach((g, i) =>
    assert.ok(g >= expected[i]! * 0.8 - 1 && g <= expected[i]! * 1.2 + 1, `wait ${i + 1}: ${g} s`),
  );
  assert.equal((await first).attempts, 5);
  await n.stop();
  db.close();
});

test('kill -9 with a notification waiting: after the restart it is sent, once; the !secret token is in no log line', async () => {
  const svc = await startFakeServices();
  const dir = tempDir();
  const httpPort = await freePort();
  writeFileSync(path.join(dir, 'secrets.yaml'), `tg_token: "${svc.telegramToken}"\n`);
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    [
      'broker:',
      '  listeners: [{type: tcp, host: 127.0.0.1, port: 0}]',
      '  mdns: false',
      `http: {port: ${httpPort}}`,
      'notify:',
      '  retry_base_s: 0.2',
      '  retry_max_s: 0.5',
      '  targets:',
      '    family:',
      '      type: telegram',
      '      token: !secret tg_token',
      '      chat_id: 42',
      `      api_url: ${svc.base}/telegram`,
      '',
    ].join('\n'),
  );
  // Telegram is "down" (502) until the hub has been killed
  svc.failNext.set(
    'telegram',
    Array.from({ length: 1000 }, () => ({ status: 502 })),
  );
  let hub = await serve(['--data', dir, '--log-level', 'info']);
  try {
    const sent = await fetch(`http://127.0.0.1:${httpPort}/api/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'family', message: 'the freezer is warm' }),
    });
    assert.equal(sent.status, 202);
    // a second attempt: the first one's failure is in the outbox (and the log) by then
    await waitFor(() => svc.received.length >= 2, 10000, 'a second attempt');
    hub.child.kill('SIGKILL');
    await hub.exited;
    const firstLog = hub.stderr();
    svc.failNext.delete('telegram');
    const attemptsBefore = svc.received.length;
    hub = await serve(['--data', dir, '--log-level', 'info']);
    await waitFor(() => svc.received.length > attemptsBefore, 10000, 'the attempt after the restart');
    let list: { data: { status: string; attempts: number }[] } = { data: [] };
    for (let i = 0; i < 100 && list.data[0]?.status !== 'sent'; i++) {
      list = (await (await fetch(`http://127.0.0.1:${httpPort}/api/notifications`)).json()) as typeof list;
      if (list.data[0]?.status !== 'sent') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0]!.status, 'sent');
    assert.equal(svc.received.filter((r) => r.body.text === 'the freezer is warm').length, attemptsBefore + 1);
    // once accepted it is not sent again
    assert.equal(svc.received.length, attemptsBefore + 1);
    // the token (a !secret) is in no log line of either run
    assert.match(firstLog, /notification will be tried again/);
    assert.doesNotMatch(firstLog + hub.stderr(), /ABC-test-token/);
  } finally {
    hub.child.kill('SIGTERM');
    await hub.exited;
    await svc.close();
    removeDir(dir);
  }
});
